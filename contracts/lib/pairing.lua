--! policy {"*":"creator","components":"owner","prepair":"creator","approve":"owner","prepair_common":"creator","unpair":"creator"}
-- pairing.lua — device pre-pairing (seed 001 (49)-(68)).
--
-- components {vin, components: {NAME: pubkey_hex, ...}, max_distance_m?}
--   owner only: records the vehicle components' Ed25519 public keys (head
--   unit, digital-key ECU, ...) and the pairing distance (default 10 m).
-- prepair {vin, device: {id, owner}, identifications: [{component, vin,
--          signature}], device_position: {x, y}, vehicle_position: {x, y}}
--   The creator must be the device owner. At least two distinct recorded
--   components must each sign "vledger-pair:<VIN>:<device id>" with their
--   own key (checked with vl.verify) and agree on the VIN. Ownership: the
--   device owner is the vehicle's owner or holds an unrevoked key for it.
--   Positions (integer metres) must be within max_distance_m. The owner's
--   own device must be pre-paired first; any other device waits for the
--   owner's approval. Result: a pairing record {pairing_id, device_id,
--   owner, status "paired"|"awaiting_approval"} in the NFT-VID's devices.
-- approve {vin, pairing_id}  owner only: a waiting device becomes paired.
-- prepair_common {vin, from_vin, device_id}  the owner's other vehicle: the
--   device is paired on from_vin, and the creator owns both vehicles
--   (verified common ownership), so it is paired on vin without new
--   component identifications.
-- unpair {vin, pairing_id}  owner or the device owner.
-- on_sale {vin, seller}  from contract:settlement: removes the seller's
--   pairings (every device whose owner is the seller).
--
-- Policies (the ledger adds its guard: a write to vehicle/<VIN> needs its
-- owner's organisation): components, approve  owner; prepair,
-- prepair_common, unpair  creator (the device owner or the owner; the
-- owner's organisation endorses through the guard); * creator (on_sale runs
-- only inside sale.confirm). No role is involved.

local DEFAULT_DISTANCE_M = 10

local M = {}

local function vehicle(vin)
  vl.require(type(vin) == "string", "vin must be a string")
  local v = vl.get("vehicle/" .. vin)
  vl.require(v ~= nil, "vehicle " .. vin .. " is not registered")
  return v
end

local function holds_key(v, did)
  for _, k in ipairs(v.keys or {}) do
    if k.holder == did and not k.revoked then return true end
  end
  return false
end

local function pairing_id(vin, device_id)
  return "P" .. vl.txid():sub(1, 12):upper() .. "-" .. #device_id
end

function M.components(args)
  local v = vehicle(args.vin)
  vl.require(vl.creator() == v.owner, "only the owner of vehicle " .. v.vin ..
             " may record its components")
  vl.require(type(args.components) == "table", "components must be an object NAME: pubkey_hex")
  local comps, n = {}, 0
  for name, pk in pairs(args.components) do
    vl.require(type(name) == "string" and #name > 0 and #name <= 64,
               "component names must be 1..64 characters")
    vl.require(type(pk) == "string" and #pk == 64 and pk:match("^%x+$") ~= nil,
               "the public key of component '" .. name .. "' must be 64 hex digits")
    comps[name] = pk
    n = n + 1
  end
  vl.require(n >= 2, "record at least two components")
  local d = args.max_distance_m
  if d == nil or d == vl.null then d = DEFAULT_DISTANCE_M end
  vl.require(math.type(d) == "integer" and d >= 0 and d <= 10000,
             "max_distance_m must be an integer from 0 to 10000")
  v.components = comps
  v.pairing_max_distance_m = d
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("pairing.components", { vin = v.vin, count = n })
  return { vin = v.vin, components = n }
end

local function point(p, what)
  vl.require(type(p) == "table" and math.type(p.x) == "integer" and math.type(p.y) == "integer"
             and math.abs(p.x) < 100000000 and math.abs(p.y) < 100000000,
             what .. " must be {x, y} in integer metres")
  return p
end

function M.prepair(args)
  local v = vehicle(args.vin)
  local me = vl.creator()
  local dev = args.device
  vl.require(type(dev) == "table" and type(dev.id) == "string" and #dev.id > 0 and
             #dev.id <= 128, "device must be {id, owner}")
  vl.require(dev.owner == me, "the device owner " .. tostring(dev.owner) ..
             " must sign the pre-pairing request")
  vl.require(v.components ~= nil, "vehicle " .. v.vin ..
             " has no recorded components: the owner must run pairing.components first")
  -- identification from at least two components agreeing on the VIN
  local msg = "vledger-pair:" .. v.vin .. ":" .. dev.id
  local ids = args.identifications
  vl.require(type(ids) == "table", "identifications must be an array")
  local good, seen = 0, {}
  for _, ident in ipairs(ids) do
    local name = ident.component
    local pk = type(name) == "string" and v.components[name] or nil
    vl.require(pk ~= nil, "component '" .. tostring(name) .. "' is not recorded for " .. v.vin)
    vl.require(ident.vin == v.vin, "component '" .. name .. "' reports VIN " ..
               tostring(ident.vin) .. ", not " .. v.vin)
    vl.require(type(ident.signature) == "string" and vl.verify(pk, msg, ident.signature),
               "the signature of component '" .. name .. "' does not verify")
    if not seen[name] then
      seen[name] = true
      good = good + 1
    end
  end
  vl.require(good >= 2, "pre-pairing needs identification from at least two vehicle " ..
             "components, got " .. good)
  -- ownership
  vl.require(me == v.owner or holds_key(v, me), "device owner " .. me ..
             " neither owns vehicle " .. v.vin .. " nor holds a valid key for it")
  -- distance
  local a = point(args.device_position, "device_position")
  local b = point(args.vehicle_position, "vehicle_position")
  local d = v.pairing_max_distance_m or DEFAULT_DISTANCE_M
  local dx, dy = a.x - b.x, a.y - b.y
  vl.require(dx * dx + dy * dy <= d * d, "device is too far from the vehicle: pairing is " ..
             "enabled only within " .. d .. " m")
  -- second devices
  v.devices = v.devices or {}
  local owner_paired = false
  for _, x in ipairs(v.devices) do
    vl.require(x.device_id ~= dev.id, "device " .. dev.id .. " is already paired with " .. v.vin)
    if x.owner == v.owner and x.status == "paired" then owner_paired = true end
  end
  local status = "paired"
  if me ~= v.owner then
    vl.require(owner_paired, "the owner's own device must be pre-paired with " .. v.vin ..
               " first")
    status = "awaiting_approval"
  end
  local rec = { pairing_id = pairing_id(v.vin, dev.id), device_id = dev.id, owner = me,
                status = status, components = good, at = vl.now() }
  v.devices[#v.devices + 1] = rec
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("pairing." .. (status == "paired" and "paired" or "approval_needed"),
          { vin = v.vin, pairing_id = rec.pairing_id, device_id = dev.id, owner = me,
            to = v.owner })
  return rec
end

local function find_dev(v, pid)
  for i, x in ipairs(v.devices or {}) do if x.pairing_id == pid then return x, i end end
  error("vehicle " .. v.vin .. " has no pairing " .. tostring(pid))
end

function M.approve(args)
  local v = vehicle(args.vin)
  vl.require(vl.creator() == v.owner, "only the owner of vehicle " .. v.vin ..
             " may approve a device")
  local x = find_dev(v, args.pairing_id)
  vl.require(x.status == "awaiting_approval", "pairing " .. x.pairing_id .. " is " .. x.status)
  x.status = "paired"
  x.approved_at = vl.now()
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("pairing.paired", { vin = v.vin, pairing_id = x.pairing_id, device_id = x.device_id,
                              owner = x.owner, to = x.owner, approved = true })
  return x
end

function M.prepair_common(args)
  local v = vehicle(args.vin)
  local me = vl.creator()
  vl.require(v.owner == me, "you do not own vehicle " .. v.vin)
  local from = vehicle(args.from_vin)
  vl.require(from.owner == me, "you do not own vehicle " .. from.vin ..
             ": common ownership not verified")
  local src
  for _, x in ipairs(from.devices or {}) do
    if x.device_id == args.device_id and x.owner == me and x.status == "paired" then src = x end
  end
  vl.require(src ~= nil, "device " .. tostring(args.device_id) .. " is not paired with " ..
             from.vin)
  v.devices = v.devices or {}
  for _, x in ipairs(v.devices) do
    vl.require(x.device_id ~= src.device_id, "device " .. src.device_id ..
               " is already paired with " .. v.vin)
  end
  local rec = { pairing_id = pairing_id(v.vin, src.device_id), device_id = src.device_id,
                owner = me, status = "paired", via = from.vin, at = vl.now() }
  v.devices[#v.devices + 1] = rec
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("pairing.paired", { vin = v.vin, pairing_id = rec.pairing_id,
                              device_id = rec.device_id, owner = me, via = from.vin, to = me })
  return rec
end

function M.unpair(args)
  local v = vehicle(args.vin)
  local x, i = find_dev(v, args.pairing_id)
  vl.require(vl.creator() == v.owner or vl.creator() == x.owner,
             "only the owner or the device owner may unpair")
  table.remove(v.devices, i)
  v.devices = vl.array(v.devices)
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("pairing.removed", { vin = v.vin, pairing_id = x.pairing_id, device_id = x.device_id,
                               to = x.owner })
  return { pairing_id = x.pairing_id, removed = true }
end

function M.on_sale(args)
  vl.require(vl.caller() == "contract:settlement",
             "pairing.on_sale may only be called by the settlement contract")
  local v = vehicle(args.vin)
  local keep = {}
  for _, x in ipairs(v.devices or {}) do
    if x.owner == args.seller then
      vl.emit("pairing.removed", { vin = v.vin, pairing_id = x.pairing_id,
                                   device_id = x.device_id, to = x.owner, reason = "sale" })
    else
      keep[#keep + 1] = x
    end
  end
  v.devices = vl.array(keep)
  vl.put("vehicle/" .. v.vin, v)
  return {}
end

return M
