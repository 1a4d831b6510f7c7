-- delivery_location.lua — example BUYER condition: the vehicle must be
-- delivered to LOCATION, i.e. the vehicle's `location` field (or the sale
-- request's delivery.location) names it.
--   vledger contract deploy --name delivery_location --file delivery_location.lua --attach did:YOUR-DID
local LOCATION = "Berlin"

local M = {}

function M.condition(ctx)
  if ctx.side ~= "buyer" then return true end
  local d = ctx.sale.delivery
  local at = (type(d) == "table" and d.location) or ctx.vehicle.location
  if at ~= LOCATION then
    return { ok = false, reason = "delivery location " .. tostring(at) .. " is not " .. LOCATION,
             actions = { "deliver the vehicle to " .. LOCATION } }
  end
  return true
end

return M
