-- rules/agency.lua — a title and registration agency's own rules, run by
-- the agency's node (docs/reactors.md; not installed at genesis: the agency
-- deploys it and adds the rules). Each function gets ctx {event, rule,
-- self} and returns the follow-up its node proposes under the agency's
-- key, or nil.
--
--   vledger contract deploy --name agency_rules --file rules/agency.lua
--   vledger reactor add --topic event.title.requested --contract agency_rules --function on_title
--   vledger reactor add --topic event.registration.requested --contract agency_rules \
--                       --function on_registration
local M = {}

-- A title requested from this agency: issued, numbered after the request.
function M.on_title(ctx)
  local p = ctx.event.payload
  if p.agency ~= ctx.self then return nil end
  return { contract = "title", ["function"] = "answer",
           args = { vin = p.vin, decision = "issue", number = "T-" .. ctx.event.txid:sub(1, 10) } }
end

-- A registration requested from this authority (also after a sale, for the
-- new owner): a plate, named after the request.
function M.on_registration(ctx)
  local p = ctx.event.payload
  if p.authority ~= ctx.self then return nil end
  return { contract = "title", ["function"] = "register",
           args = { vin = p.vin, plate = "VL-" .. ctx.event.txid:sub(1, 6):upper() } }
end

return M
