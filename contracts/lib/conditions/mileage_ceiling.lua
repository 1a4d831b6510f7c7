-- mileage_ceiling.lua — example BUYER condition: the vehicle's `mileage`
-- field is at most MAX_MILEAGE (a vehicle without a mileage fails).
--   vledger contract deploy --name mileage_ceiling --file mileage_ceiling.lua --attach did:YOUR-DID
local MAX_MILEAGE = 100000

local M = {}

function M.condition(ctx)
  if ctx.side ~= "buyer" then return true end
  local m = ctx.vehicle.mileage
  if math.type(m) ~= "integer" then
    return { ok = false, reason = "the vehicle reports no mileage",
             actions = { "record the mileage in the NFT-VID" } }
  end
  if m > MAX_MILEAGE then
    return { ok = false, reason = "mileage " .. m .. " exceeds the ceiling " .. MAX_MILEAGE,
             actions = { "offer a vehicle with at most " .. MAX_MILEAGE .. " km" } }
  end
  return true
end

return M
