--! policy {"*":"creator","register":"creator","set_policy":"owner","get":"any"}
-- vehicle.lua — NFT-VID onboarding (seed 000 FIG. 3; DESIGN §2 vehicle/<VIN>)
-- and the vehicle's own endorsement policy (docs/trust.md "Endorsement
-- policies", state-based endorsement).
--
-- register {vin, make, model, year, color?, extra?:{...}}
--   The creator must be a registered identity; becomes the first owner.
--   VIN: 17 characters of A-H, J-N, P, R-Z, 0-9 (no I, O, Q). Writes
--   vehicle/<VIN>, appends {vin, contracts:[], keys:[]} to the creator's
--   did/<DID>.owned, emits "vehicle.registered" {vin, owner}. `extra`
--   adds free fields, never one of FIXED (the ledger's own fields, the
--   endorsement_policy among them: only set_policy writes that one).
-- set_policy {vin, policy}  the owner only: policy (a policy expression,
--   checked with vl.check_policy) becomes the document's
--   endorsement_policy, which replaces the function's policy for writes to
--   vehicle/<VIN>; null removes it. Emits "vehicle.policy_set" {vin, policy,
--   previous, by}. Refusals: not the owner; not a string or null; over
--   POLICY_MAX bytes; the policy does not parse (the checker's message);
--   removing a policy the vehicle does not have. Changing or removing an
--   existing policy needs the current one to be satisfied (the ledger checks
--   writes to a key against its stored policy). A sale clears it (the new
--   owner's vehicle starts without the seller's policy; settlement.lua).
-- get {vin} -> the vehicle document or null.
--
-- Policies (the ledger adds its guard: a write to vehicle/<VIN> without a
-- key policy needs the current owner's organisation):
--   register    creator — the new owner's organisation (no owner yet);
--   set_policy  owner   — the current owner's organisation (or, once the
--                         vehicle has a policy, that policy instead);
--   get         any     — read-only;
--   *           creator.

local M = {}

local FIXED = {
  vin = true, make = true, model = true, year = true, color = true, title = true,
  registration = true, insurance = true, financing = true, owners = true, owner = true,
  keys = true, devices = true, purchase_requests = true, contracts = true,
  endorsement_policy = true, parking = true, components = true, pairing_max_distance_m = true,
}

local POLICY_MAX = 1024

local function valid_vin(vin)
  if type(vin) ~= "string" or #vin ~= 17 then return false end
  for i = 1, 17 do
    local c = vin:sub(i, i)
    local ok = (c >= "0" and c <= "9") or (c >= "A" and c <= "Z")
    if not ok or c == "I" or c == "O" or c == "Q" then return false end
  end
  return true
end

local function nonempty(v, what)
  vl.require(type(v) == "string" and #v > 0 and #v <= 128,
             what .. " must be a non-empty string of at most 128 characters")
end

function M.register(args)
  local did = vl.creator()
  local person = vl.get("did/" .. did)
  vl.require(person ~= nil,
             "identity " .. did .. " is not registered: run `vledger identity new` first")

  local vin = args.vin
  vl.require(valid_vin(vin), "invalid VIN '" .. tostring(vin) ..
             "': a VIN is 17 characters from A-H, J-N, P, R-Z and 0-9")
  nonempty(args.make, "make")
  nonempty(args.model, "model")
  local year = args.year
  vl.require(math.type(year) == "integer" and year >= 1886 and year <= 2100,
             "year must be an integer from 1886 to 2100")
  local color = args.color
  if color == vl.null then color = nil end
  if color ~= nil then nonempty(color, "color") end
  local extra = args.extra
  if extra == vl.null then extra = nil end
  vl.require(extra == nil or type(extra) == "table", "extra must be an object")

  local key = "vehicle/" .. vin
  vl.require(vl.get(key) == nil, "vehicle " .. vin .. " is already registered")

  local now = vl.now()
  local doc = {
    vin = vin,
    make = args.make,
    model = args.model,
    year = year,
    color = color,
    title = { status = "none" },
    registration = { status = "unregistered" },
    owners = { { did = did, since = now } },
    owner = did,
    keys = {},
    devices = {},
    purchase_requests = {},
    contracts = { owner = {}, generic = {} },
  }
  if extra then
    for k, v in pairs(extra) do
      vl.require(type(k) == "string", "extra must be an object")
      if not FIXED[k] and doc[k] == nil then doc[k] = v end
    end
  end
  vl.put(key, doc)

  person.owned = person.owned or {}
  person.owned[#person.owned + 1] = { vin = vin, contracts = {}, keys = {} }
  vl.put("did/" .. did, person)

  vl.emit("vehicle.registered", { vin = vin, owner = did })
  return { vin = vin, owner = did }
end

function M.set_policy(args)
  vl.require(type(args.vin) == "string", "vin must be a string")
  local key = "vehicle/" .. args.vin
  local v = vl.get(key)
  vl.require(v ~= nil, "vehicle " .. args.vin .. " is not registered")
  local me = vl.creator()
  vl.require(v.owner == me, "only the owner " .. tostring(v.owner) .. " of vehicle " .. v.vin ..
             " may set its endorsement policy")
  local policy = args.policy
  local previous = v.endorsement_policy
  if policy == nil or policy == vl.null then
    vl.require(previous ~= nil, "vehicle " .. v.vin .. " has no endorsement policy to remove")
    v.endorsement_policy = nil
  else
    vl.require(type(policy) == "string",
               "policy must be a policy expression (a string), or null to remove it")
    vl.require(#policy > 0 and #policy <= POLICY_MAX,
               "policy must be 1.." .. POLICY_MAX .. " characters")
    local ok, msg = vl.check_policy(policy)
    vl.require(ok, "endorsement policy refused: " .. tostring(msg))
    vl.require(policy ~= previous, "vehicle " .. v.vin .. " already has the policy " .. policy)
    v.endorsement_policy = policy
  end
  vl.put(key, v)
  vl.emit("vehicle.policy_set", { vin = v.vin, policy = v.endorsement_policy or vl.null,
                                  previous = previous or vl.null, by = me })
  return { vin = v.vin, endorsement_policy = v.endorsement_policy or vl.null }
end

function M.get(args)
  vl.require(type(args.vin) == "string", "vin must be a string")
  return vl.get("vehicle/" .. args.vin) or vl.null
end

return M
