-- cash_only.lua — example SELLER condition: no financing, and the buyer's
-- wallet already holds the price. Deploy and attach it to your vehicle:
--   vledger contract deploy --name cash_only --file cash_only.lua --attach vehicle:VIN
local M = {}

function M.condition(ctx)
  if ctx.side ~= "seller" then return true end
  if ctx.sale.finance ~= nil then
    return { ok = false, reason = "the seller accepts cash only, the request is financed by " ..
             ctx.sale.finance.lender, actions = { "request the sale without financing" } }
  end
  if ctx.buyer_balance < ctx.price then
    return { ok = false, reason = "buyer wallet holds " .. ctx.buyer_balance ..
             " cents, price is " .. ctx.price,
             actions = { "add " .. (ctx.price - ctx.buyer_balance) ..
                         " cents to the buyer wallet: a transfer from another wallet, or " ..
                         "money issued by an issuer organisation (`vledger wallet issue " ..
                         "--to " .. ctx.sale.buyer .. " CENTS` on its node)" } }
  end
  return true
end

return M
