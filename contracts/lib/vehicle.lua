--! policy {"*":"any"}
-- vehicle.lua — NFT-VID onboarding (seed 000 FIG. 3; DESIGN §2 vehicle/<VIN>).
--
-- register {vin, make, model, year, color?, extra?:{...}}
--   The creator must be a registered identity; becomes the first owner.
--   VIN: 17 characters of A-H, J-N, P, R-Z, 0-9 (no I, O, Q). Writes
--   vehicle/<VIN>, appends {vin, contracts:[], keys:[]} to the creator's
--   did/<DID>.owned, emits "vehicle.registered" {vin, owner}.
-- get {vin} -> the vehicle document or null.

local M = {}

local FIXED = {
  vin = true, make = true, model = true, year = true, color = true, title = true,
  registration = true, insurance = true, financing = true, owners = true, owner = true,
  keys = true, devices = true, purchase_requests = true, contracts = true,
}

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

function M.get(args)
  vl.require(type(args.vin) == "string", "vin must be a string")
  return vl.get("vehicle/" .. args.vin) or vl.null
end

return M
