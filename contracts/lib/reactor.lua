--! policy {"*":"creator","add":"creator","remove":"creator","list":"any","get":"any"}
-- reactor.lua — participants' rules, run by their own nodes
-- (docs/reactors.md). Keys: reactor/<DID>/<id> (reserved: only this system
-- contract writes them, so a rule is always its owner's own).
--
-- add {id?, topic, match?, at?, every_ms?, contract, function?}
--   Stores the creator's rule: when an event with topic `topic`
--   ("event.<name>") commits whose payload has every field of `match`
--   equal, the creator's node runs contract.function (default "react")
--   read-only with {event, rule, self} and proposes the follow-up it
--   returns. Topic "time" is a scheduled time instead: the rule fires
--   when block time reaches `at` (ms), and again every `every_ms` (at
--   least 1000) after it when given; its event is {name "time",
--   payload {at, block_time, rule}}. id defaults to r<N> (the creator's next free number). The
--   creator must be registered, the contract deployed and the function
--   name valid; match is an object of scalar fields. Emits "reactor.added"
--   {owner, id, topic}. Refuses an id in use.
-- remove {id}   deletes the creator's rule; emits "reactor.removed".
-- list {did?}   -> the rules of did (default: the creator), oldest id first.
-- get {did, id} -> the rule or null.
--
-- Policies: add, remove creator (the owner's organisation: a rule is its
-- own); list, get any (read-only).

local RULES_MAX = 64

local M = {}

local function valid_id(id)
  return type(id) == "string" and #id >= 1 and #id <= 32 and id:match("^[A-Za-z0-9_%-]+$") ~= nil
end

local function valid_name(n)
  return type(n) == "string" and #n >= 1 and #n <= 64 and n:match("^[a-z][a-z0-9_]*$") ~= nil
end

local function rules_of(did)
  local out = {}
  for _, row in ipairs(vl.range("reactor/" .. did .. "/")) do out[#out + 1] = row.value end
  return out
end

function M.add(args)
  local me = vl.creator()
  vl.require(vl.get("did/" .. me) ~= nil,
             "identity " .. me .. " is not registered: run `vledger identity new` first")
  local topic = args.topic
  vl.require(type(topic) == "string" and (topic == "time" or
             (topic:match("^event%.[a-z0-9_.]+$") ~= nil and #topic <= 128)),
             "topic must be an event topic: event.<name> (e.g. event.sale.requested), " ..
             "or time (with at)")
  local at, every = args.at, args.every_ms
  if at == vl.null then at = nil end
  if every == vl.null then every = nil end
  if topic == "time" then
    vl.require(math.type(at) == "integer" and at > 0,
               "a time rule needs at: the block time (ms since the epoch) it fires at")
    vl.require(every == nil or (math.type(every) == "integer" and every >= 1000),
               "every_ms must be an integer of at least 1000")
  else
    vl.require(at == nil and every == nil, "at and every_ms go with topic time")
  end
  vl.require(valid_name(args.contract), "contract must name a deployed contract")
  vl.require(vl.get("contract/" .. args.contract) ~= nil,
             "contract '" .. args.contract .. "' is not deployed: deploy it first with " ..
             "`vledger contract deploy`")
  local fn = args["function"]
  if fn == nil or fn == vl.null then fn = "react" end
  vl.require(type(fn) == "string" and fn:match("^[A-Za-z_][A-Za-z0-9_]*$") ~= nil and #fn <= 64,
             "function must be a function name")
  local match = args.match
  if match == nil or match == vl.null then match = {} end
  vl.require(type(match) == "table", "match must be an object of payload fields")
  for k, v in pairs(match) do
    vl.require(type(k) == "string" and (type(v) == "string" or type(v) == "number"
                                        or type(v) == "boolean"),
               "match must map payload field names to strings, numbers or booleans")
  end
  local existing = rules_of(me)
  vl.require(#existing < RULES_MAX, "at most " .. RULES_MAX .. " rules per identity")
  local id = args.id
  if id == nil or id == vl.null then
    local n = #existing + 1
    while vl.get("reactor/" .. me .. "/r" .. n) ~= nil do n = n + 1 end
    id = "r" .. n
  end
  vl.require(valid_id(id), "id must be 1-32 characters from A-Z, a-z, 0-9, _ and -")
  local key = "reactor/" .. me .. "/" .. id
  vl.require(vl.get(key) == nil, "rule " .. id .. " of " .. me .. " exists already")
  local rule = { owner = me, id = id, topic = topic, match = match, contract = args.contract,
                 ["function"] = fn, created_at = vl.now(), at = at, every_ms = every }
  vl.put(key, rule)
  vl.emit("reactor.added", { owner = me, id = id, topic = topic })
  return rule
end

function M.remove(args)
  local me = vl.creator()
  vl.require(valid_id(args.id), "id must name one of your rules")
  local key = "reactor/" .. me .. "/" .. args.id
  vl.require(vl.get(key) ~= nil, "no rule " .. args.id .. " of " .. me)
  vl.del(key)
  vl.emit("reactor.removed", { owner = me, id = args.id })
  return { owner = me, id = args.id, removed = true }
end

function M.list(args)
  local did = args.did or vl.creator()
  vl.require(type(did) == "string", "did must be a DID")
  return vl.array(rules_of(did))
end

function M.get(args)
  vl.require(type(args.did) == "string" and valid_id(args.id), "get needs did and id")
  return vl.get("reactor/" .. args.did .. "/" .. args.id)
end

return M
