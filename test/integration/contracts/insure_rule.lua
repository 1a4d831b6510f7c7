-- insure_rule.lua — an owner's reactor rule for the tests: approve any
-- insurance its insurer asks it to approve. The approval needs the
-- insurer's organisation too, so with the insurer's node down the owner's
-- node retries until it is back.
local M = {}

function M.react(ctx)
  local p = ctx.event.payload
  if p.to ~= ctx.self or p.status ~= "awaiting_approval" then return nil end
  return { contract = "insurance", ["function"] = "approve",
           args = { vin = p.vin, id = p.id, provider = p.by } }
end

return M
