-- tip_rule.lua — a participant's reactor rule for the exactly-once tests:
-- whenever money is issued to the rule's owner, pass one cent of it back
-- to the issuer. Paying twice for one event would show in the balances.
local M = {}

function M.react(ctx)
  local p = ctx.event.payload
  if p.to ~= ctx.self then return nil end
  return { contract = "wallet", ["function"] = "transfer", args = { to = p.by, cents = 1 } }
end

return M
