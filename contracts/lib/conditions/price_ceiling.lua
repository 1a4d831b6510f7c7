-- price_ceiling.lua — example BUYER condition: offers above MAX_PRICE cents
-- are rejected (edit the constant before deploying).
--   vledger contract deploy --name price_ceiling --file price_ceiling.lua --attach did:YOUR-DID
local MAX_PRICE = 2000000

local M = {}

function M.condition(ctx)
  if ctx.side ~= "buyer" then return true end
  if ctx.price > MAX_PRICE then
    return { ok = false, reason = "offer " .. ctx.price .. " exceeds the price ceiling " ..
             MAX_PRICE, actions = { "offer at most " .. MAX_PRICE .. " cents" } }
  end
  return true
end

return M
