--! policy {"*":"creator","deploy":"creator","get":"any"}
-- contract.lua — system contract that deploys and upgrades participant
-- contracts (records at contract/<name>, DESIGN §2).
--
-- deploy {name, source, policy?, attach?}
--   name: [a-z][a-z0-9_]{0,63}. source: Lua text that compiles as a text
--   chunk (checked with vl.check_source; it must return a table of
--   functions when run). policy: the endorsement policy per function, an
--   object {function or "*": expression}, at most POLICY_ENTRIES_MAX
--   entries, each expression checked with vl.check_policy (the refusal
--   names the entry and gives the checker's reason); default
--   {"*": "creator"} (the deployer's organisation endorses calls to it).
--   A new name is deployed at version 1 with the creator as author. An
--   existing name may be redeployed only by its author: the version
--   increments and the previous record stays readable at
--   contract/<name>@<old version>.
--   attach: "vehicle:<VIN>" (creator must own it: added to the vehicle's
--   contracts.owner and to the owner's did.owned[].contracts) or
--   "did:<DID>" (must be the creator's own: added to contracts.generic).
--   Emits "contract.deployed" {name, version, author}.
-- get {name, version?} -> the record (an older version's when asked), or null.
--
-- Policies (the ledger adds its guards: attaching writes vehicle/<VIN>,
-- needing its owner's organisation, or did/<DID>, needing the identity's):
--   deploy  creator — the author's organisation;
--   get     any     — read-only;
--   *       creator.

local M = {}

local MAX_SOURCE = 256 * 1024
local POLICY_ENTRIES_MAX = 64
local POLICY_MAX = 1024

-- Checks a deploy's policy object; returns it (an object) or raises.
local function check_policy(policy)
  if policy == nil or policy == vl.null then return vl.object({ ["*"] = "creator" }) end
  vl.require(type(policy) == "table", "policy must be an object {function or \"*\": expression}")
  local n = 0
  for k, expr in pairs(policy) do
    n = n + 1
    vl.require(type(k) == "string", "policy must be an object {function or \"*\": expression}")
    vl.require(k == "*" or (#k <= 64 and k:match("^[A-Za-z_][A-Za-z0-9_]*$") ~= nil),
               "policy entry '" .. k .. "' must be a function name or \"*\"")
    vl.require(type(expr) == "string" and #expr > 0 and #expr <= POLICY_MAX,
               "policy for '" .. k .. "' must be an expression of 1.." .. POLICY_MAX ..
               " characters")
    local ok, msg = vl.check_policy(expr)
    vl.require(ok, "policy for '" .. k .. "' refused: " .. tostring(msg))
  end
  vl.require(n > 0, "policy must map at least one function (or \"*\") to an expression")
  vl.require(n <= POLICY_ENTRIES_MAX, "policy has more than " .. POLICY_ENTRIES_MAX ..
             " entries")
  return vl.object(policy)
end

local function valid_name(n)
  if type(n) ~= "string" or #n < 1 or #n > 64 then return false end
  if not (n:sub(1, 1) >= "a" and n:sub(1, 1) <= "z") then return false end
  for i = 2, #n do
    local c = n:sub(i, i)
    if not ((c >= "a" and c <= "z") or (c >= "0" and c <= "9") or c == "_") then
      return false
    end
  end
  return true
end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

local function attach(target, name, did)
  vl.require(type(target) == "string", "attach must be 'vehicle:<VIN>' or 'did:<DID>'")
  if target:sub(1, 8) == "vehicle:" then
    local vin = target:sub(9)
    local v = vl.get("vehicle/" .. vin)
    vl.require(v ~= nil, "vehicle " .. vin .. " is not registered")
    vl.require(v.owner == did, "only the owner of vehicle " .. vin .. " may attach contracts to it")
    v.contracts = v.contracts or { owner = {}, generic = {} }
    v.contracts.owner = v.contracts.owner or {}
    if not contains(v.contracts.owner, name) then
      v.contracts.owner[#v.contracts.owner + 1] = name
    end
    vl.put("vehicle/" .. vin, v)
    local p = vl.get("did/" .. did)
    if p and p.owned then
      for _, o in ipairs(p.owned) do
        if o.vin == vin then
          o.contracts = o.contracts or {}
          if not contains(o.contracts, name) then o.contracts[#o.contracts + 1] = name end
        end
      end
      vl.put("did/" .. did, p)
    end
  elseif target:sub(1, 4) == "did:" then
    local who = target:sub(5)
    vl.require(who == did, "contracts may only be attached to your own identity")
    local p = vl.get("did/" .. who)
    vl.require(p ~= nil, "identity " .. who .. " is not registered")
    p.contracts = p.contracts or { generic = {} }
    p.contracts.generic = p.contracts.generic or {}
    if not contains(p.contracts.generic, name) then
      p.contracts.generic[#p.contracts.generic + 1] = name
    end
    vl.put("did/" .. who, p)
  else
    error("attach must be 'vehicle:<VIN>' or 'did:<DID>'")
  end
end

function M.deploy(args)
  local did = vl.creator()
  vl.require(vl.get("did/" .. did) ~= nil,
             "identity " .. did .. " is not registered: run `vledger identity new` first")
  local name = args.name
  vl.require(valid_name(name), "invalid contract name '" .. tostring(name) ..
             "': use [a-z][a-z0-9_]{0,63}")
  local source = args.source
  vl.require(type(source) == "string" and #source > 0, "source must be a non-empty string")
  vl.require(#source <= MAX_SOURCE, "source exceeds " .. MAX_SOURCE .. " bytes")
  local ok, err = vl.check_source(source)
  vl.require(ok, "contract '" .. name .. "' does not compile: " .. tostring(err))
  local policy = check_policy(args.policy)

  local key = "contract/" .. name
  local old = vl.get(key)
  local version = 1
  if old ~= nil then
    vl.require(old.author == did, "only the author " .. tostring(old.author) ..
               " may upgrade contract '" .. name .. "'")
    version = old.version + 1
    vl.put(key .. "@" .. old.version, old)
  end
  vl.put(key, { name = name, source = source, author = did, version = version,
                policy = policy })
  if args.attach ~= nil and args.attach ~= vl.null then attach(args.attach, name, did) end
  vl.emit("contract.deployed", { name = name, version = version, author = did })
  return { name = name, version = version }
end

function M.get(args)
  vl.require(type(args.name) == "string", "name must be a string")
  local rec = vl.get("contract/" .. args.name)
  local v = args.version
  if v == nil or v == vl.null or rec == nil or v == rec.version then
    return rec or vl.null
  end
  vl.require(math.type(v) == "integer" and v >= 1, "version must be a positive integer")
  return vl.get("contract/" .. args.name .. "@" .. v) or vl.null
end

return M
