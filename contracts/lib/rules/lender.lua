-- rules/lender.lua — a lender's approval rule, run by the lender's node
-- (docs/reactors.md): once a financed sale is agreed, the lender confirms
-- it when the loan is within its terms, so nobody at the bank has to type
-- the confirmation; a loan outside them waits for a person.
--
--   vledger contract deploy --name lender_rules --file rules/lender.lua
--   vledger reactor add --topic event.sale.agreed --contract lender_rules --function on_agreed
local MAX_LOAN = 2000000        -- cents
local MAX_SHARE_PERCENT = 90    -- of the agreed price

local M = {}

function M.on_agreed(ctx)
  local p = ctx.event.payload
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.finance == nil or s.finance.lender ~= ctx.self then return nil end
  if s.status ~= "agreed" then return nil end
  local amount = s.finance.amount
  if amount > MAX_LOAN or amount * 100 > p.price * MAX_SHARE_PERCENT then return nil end
  return { contract = "sale", ["function"] = "confirm", args = { vin = p.vin, id = p.sale } }
end

return M
