-- rules/insurer.lua — an insurer's own rule, run by the insurer's node
-- (docs/reactors.md): it answers an owner's insurance request addressed to
-- it by approving it (the request was verified against the agency's rule
-- when it was made).
--
--   vledger contract deploy --name insurer_rules --file rules/insurer.lua
--   vledger reactor add --topic event.insurance.requested --contract insurer_rules \
--                       --function on_request
local M = {}

function M.on_request(ctx)
  local p = ctx.event.payload
  if p.to ~= ctx.self or p.status ~= "awaiting_approval" then return nil end
  return { contract = "insurance", ["function"] = "approve",
           args = { vin = p.vin, id = p.id, provider = ctx.self } }
end

return M
