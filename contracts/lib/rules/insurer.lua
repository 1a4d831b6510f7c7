-- rules/insurer.lua — an insurer's own rules, run by the insurer's node
-- (docs/reactors.md): it answers an owner's insurance request addressed to
-- it by approving it (the request was verified against the agency's rule
-- when it was made), and when a sale ends one of its policies (the seller's
-- insurance) it confirms the cancellation.
--
--   vledger contract deploy --name insurer_rules --file rules/insurer.lua
--   vledger reactor add --topic event.insurance.requested --contract insurer_rules \
--                       --function on_request
--   vledger reactor add --topic event.insurance.removed --contract insurer_rules \
--                       --function on_removed
local M = {}

function M.on_request(ctx)
  local p = ctx.event.payload
  if p.to ~= ctx.self or p.status ~= "awaiting_approval" then return nil end
  return { contract = "insurance", ["function"] = "approve",
           args = { vin = p.vin, id = p.id, provider = ctx.self } }
end

function M.on_removed(ctx)
  local p = ctx.event.payload
  if p.to ~= ctx.self or p.id == nil then return nil end
  local req = vl.get("service_request/" .. p.vin .. "/" .. p.id)
  if req == nil or req.status ~= "ended_by_sale" then return nil end
  return { contract = "insurance", ["function"] = "confirm_end",
           args = { vin = p.vin, id = p.id } }
end

return M
