-- pay_at.lua — a scheduled-time reactor rule for the tests: when block time
-- reaches the rule's time, its owner pays PAYEE 7 cents. Paying twice for
-- one time would show in the balance.
local PAYEE = "did:vl:0000000000000000000000000000000000000000"

local M = {}

function M.react(ctx)
  if ctx.event.name ~= "time" or ctx.event.payload.rule ~= ctx.rule.id then return nil end
  return { contract = "wallet", ["function"] = "transfer", args = { to = PAYEE, cents = 7 } }
end

return M
