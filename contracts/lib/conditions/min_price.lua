-- min_price.lua — example SELLER condition: the price is at least MIN_PRICE
-- cents (edit the constant before deploying).
--   vledger contract deploy --name min_price --file min_price.lua --attach vehicle:VIN
local MIN_PRICE = 1000000

local M = {}

function M.condition(ctx)
  if ctx.side ~= "seller" then return true end
  if ctx.price < MIN_PRICE then
    return { ok = false, reason = "price " .. ctx.price .. " is below the minimum " .. MIN_PRICE,
             actions = { "offer at least " .. MIN_PRICE .. " cents" } }
  end
  return true
end

return M
