-- accepted_lenders.lua — example SELLER condition: a financed purchase must
-- use one of LENDERS (DIDs; edit the list before deploying). Cash is fine.
--   vledger contract deploy --name accepted_lenders --file accepted_lenders.lua --attach vehicle:VIN
local LENDERS = { "did:vl:0000000000000000000000000000000000000000" }

local M = {}

function M.condition(ctx)
  if ctx.side ~= "seller" or ctx.sale.finance == nil then return true end
  for _, l in ipairs(LENDERS) do
    if l == ctx.sale.finance.lender then return true end
  end
  return { ok = false, reason = "lender " .. ctx.sale.finance.lender .. " is not accepted",
           actions = { "finance with one of: " .. table.concat(LENDERS, ", "), "pay cash" } }
end

return M
