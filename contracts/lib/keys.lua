--! policy {"*":"creator","issue":"owner","revoke":"owner","use":"creator","check_use":"any"}
-- keys.lua — digital keys and key-use checks (seed 000 [0119]-[0121]).
--
-- issue {vin, holder, scope?="operator"|"owner", functions?}  owner only.
--   Scope owner: every function in OWNER_FUNCTIONS; operator: a subset
--   (default OPERATOR_DEFAULT). key_id = "K" + 12 hex digits of the txid.
--   Appends {key_id, holder, scope, functions, revoked=false} to the
--   NFT-VID's keys and the key id to the holder's NFT-DID (owned[].keys for
--   the owner, interest[].keys otherwise).
-- revoke {vin, key_id}  owner only.
-- use {vin, key_id, ["function"]?="start"}  the key's holder. The key must
--   exist and be held by the creator (else a refusal). Then the generic
--   check (check_use: insurance and registration valid now) and the key's
--   own state (revoked, scope) decide: allowed -> "key.used"; denied ->
--   "key.denied" and "key.notification" events to the owner and the
--   insurer; the result {allowed, reasons} is recorded either way.
-- check_use {vin} -> {ok, reasons}  the generic contract copied into every
--   NFT-VID at onboarding (title.lua): insurance active and valid_until in
--   the future, registration "registered".
-- on_sale {vin, seller, buyer}  from contract:settlement: revokes every key
--   and issues the buyer's default owner key.
--
-- Policies (the ledger adds its guards: a write to vehicle/<VIN> needs its
-- owner's organisation, a write to did/<DID> the identity's):
--   issue, revoke  owner — the owner's organisation (issue also writes the
--     holder's NFT-DID, so the holder's organisation endorses through the
--     did/ guard);
--   use      creator — the key holder's organisation; writes nothing but
--     events;
--   check_use  any — read-only;
--   *        creator (on_sale runs only inside sale.confirm).

local OWNER_FUNCTIONS = { "unlock", "lock", "start", "trunk", "share", "pair" }
local OPERATOR_DEFAULT = { "unlock", "lock", "start" }

local M = {}

local function vehicle(vin)
  vl.require(type(vin) == "string", "vin must be a string")
  local v = vl.get("vehicle/" .. vin)
  vl.require(v ~= nil, "vehicle " .. vin .. " is not registered")
  return v
end

local function contains(list, x)
  for _, y in ipairs(list or {}) do if y == x then return true end end
  return false
end

local function add_to_did(did, vin, key_id)
  local p = vl.get("did/" .. did)
  if p == nil then return end
  local v = vl.get("vehicle/" .. vin)
  local list_name = (v and v.owner == did) and "owned" or "interest"
  p[list_name] = p[list_name] or {}
  local entry
  for _, o in ipairs(p[list_name]) do if o.vin == vin then entry = o end end
  if entry == nil then
    entry = { vin = vin, contracts = vl.array({}), keys = {} }
    p[list_name][#p[list_name] + 1] = entry
  end
  entry.keys = entry.keys or {}
  entry.keys[#entry.keys + 1] = key_id
  vl.put("did/" .. did, p)
end

local function new_key(v, holder, scope, functions)
  local key = { key_id = "K" .. vl.txid():sub(1, 12):upper(), holder = holder, scope = scope,
                functions = functions, revoked = false, issued_at = vl.now() }
  -- several keys in one tx (never in practice) get distinct ids
  local n = 0
  for _, k in ipairs(v.keys or {}) do if k.key_id:sub(1, 13) == key.key_id then n = n + 1 end end
  if n > 0 then key.key_id = key.key_id .. "-" .. n end
  v.keys = v.keys or {}
  v.keys[#v.keys + 1] = key
  return key
end

function M.issue(args)
  local v = vehicle(args.vin)
  vl.require(vl.creator() == v.owner, "only the owner " .. v.owner .. " of vehicle " .. v.vin ..
             " may issue keys")
  local holder = args.holder
  vl.require(type(holder) == "string" and vl.get("did/" .. holder) ~= nil,
             "key holder " .. tostring(holder) .. " is not registered")
  local scope = args.scope
  if scope == nil or scope == vl.null then scope = "operator" end
  vl.require(scope == "owner" or scope == "operator", "scope must be 'owner' or 'operator'")
  local functions
  if scope == "owner" then
    functions = OWNER_FUNCTIONS
  elseif args.functions ~= nil and args.functions ~= vl.null then
    vl.require(type(args.functions) == "table" and #args.functions > 0,
               "functions must be a non-empty array")
    functions = {}
    for _, f in ipairs(args.functions) do
      vl.require(contains(OWNER_FUNCTIONS, f), "unknown key function '" .. tostring(f) ..
                 "' (known: " .. table.concat(OWNER_FUNCTIONS, ", ") .. ")")
      functions[#functions + 1] = f
    end
  else
    functions = OPERATOR_DEFAULT
  end
  local key = new_key(v, holder, scope, functions)
  vl.put("vehicle/" .. v.vin, v)
  add_to_did(holder, v.vin, key.key_id)
  vl.emit("key.issued", { vin = v.vin, key_id = key.key_id, holder = holder, scope = scope,
                          to = holder })
  return key
end

local function find_key(v, key_id)
  vl.require(type(key_id) == "string", "key_id must be a string")
  for _, k in ipairs(v.keys or {}) do if k.key_id == key_id then return k end end
  error("vehicle " .. v.vin .. " has no key " .. key_id)
end

function M.revoke(args)
  local v = vehicle(args.vin)
  vl.require(vl.creator() == v.owner, "only the owner " .. v.owner .. " of vehicle " .. v.vin ..
             " may revoke keys")
  local k = find_key(v, args.key_id)
  vl.require(not k.revoked, "key " .. k.key_id .. " is already revoked")
  k.revoked = true
  k.revoked_at = vl.now()
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("key.revoked", { vin = v.vin, key_id = k.key_id, holder = k.holder, to = k.holder })
  return { key_id = k.key_id, revoked = true }
end

local function check(v)
  local reasons = {}
  local ins = v.insurance
  if ins == nil then
    reasons[#reasons + 1] = "no insurance"
  elseif ins.state ~= "active" then
    reasons[#reasons + 1] = "insurance " .. tostring(ins.policy) .. " is " .. tostring(ins.state)
  elseif ins.valid_until <= vl.now() then
    reasons[#reasons + 1] = "insurance " .. tostring(ins.policy) .. " expired at " ..
                            ins.valid_until
  end
  local reg = v.registration or {}
  if reg.status ~= "registered" then
    reasons[#reasons + 1] = "registration is " .. tostring(reg.status or "missing")
  elseif reg.holder ~= nil and reg.holder ~= v.owner then
    reasons[#reasons + 1] = "registration is in the previous owner's name"
  end
  return reasons
end

function M.check_use(args)
  local v = vehicle(args.vin)
  local reasons = check(v)
  return { ok = #reasons == 0, reasons = vl.array(reasons) }
end

function M.use(args)
  local v = vehicle(args.vin)
  local k = find_key(v, args.key_id)
  local me = vl.creator()
  vl.require(k.holder == me, "key " .. k.key_id .. " is held by " .. k.holder .. ", not by " .. me)
  local fn = args["function"]
  if fn == nil or fn == vl.null then fn = "start" end
  vl.require(type(fn) == "string", "function must be a string")
  local reasons = {}
  if k.revoked then reasons[#reasons + 1] = "key " .. k.key_id .. " is revoked" end
  if not contains(k.functions, fn) then
    reasons[#reasons + 1] = "key scope " .. k.scope .. " does not allow '" .. fn .. "'"
  end
  for _, r in ipairs(check(v)) do reasons[#reasons + 1] = r end
  local allowed = #reasons == 0
  local p = { vin = v.vin, key_id = k.key_id, holder = me, ["function"] = fn, at = vl.now() }
  if allowed then
    vl.emit("key.used", p)
  else
    p.reasons = vl.array(reasons)
    vl.emit("key.denied", p)
    local insurer = v.insurance and v.insurance.insurer
    for _, to in ipairs({ v.owner, insurer }) do
      vl.emit("key.notification", { to = to, vin = v.vin, key_id = k.key_id, holder = me,
                                    reasons = vl.array(reasons) })
    end
  end
  local r = { vin = v.vin, key_id = k.key_id, ["function"] = fn, allowed = allowed,
              reasons = vl.array(reasons) }
  if not allowed then
    r.message = "key use denied: " .. table.concat(reasons, "; ")
  end
  return r
end

function M.on_sale(args)
  vl.require(vl.caller() == "contract:settlement",
             "keys.on_sale may only be called by the settlement contract")
  local v = vehicle(args.vin)
  for _, k in ipairs(v.keys or {}) do
    if not k.revoked then
      k.revoked = true
      k.revoked_at = vl.now()
      k.revoked_reason = "sale " .. args.sale
      vl.emit("key.revoked", { vin = v.vin, key_id = k.key_id, holder = k.holder,
                               to = k.holder, reason = "sale" })
    end
  end
  local key = new_key(v, args.buyer, "owner", OWNER_FUNCTIONS)
  vl.put("vehicle/" .. v.vin, v)
  add_to_did(args.buyer, v.vin, key.key_id)
  vl.emit("key.issued", { vin = v.vin, key_id = key.key_id, holder = args.buyer, scope = "owner",
                          to = args.buyer, reason = "sale " .. args.sale })
  return key
end

return M
