-- agency_rule.lua — the title agency's own rules for the reactor tests:
-- its node issues the title a seller requested from it, and the plate a
-- registration asks it for, without anyone typing a command. Each returns
-- the follow-up the agency's node proposes under the agency's key, or nil.
local M = {}

function M.on_title(ctx)
  local p = ctx.event.payload
  if p.agency ~= ctx.self then return nil end
  return { contract = "title", ["function"] = "answer",
           args = { vin = p.vin, decision = "issue", number = "T-" .. ctx.event.txid:sub(1, 8) } }
end

function M.on_registration(ctx)
  local p = ctx.event.payload
  if p.authority ~= ctx.self then return nil end
  return { contract = "title", ["function"] = "register",
           args = { vin = p.vin, plate = "VL-" .. ctx.event.txid:sub(1, 6):upper() } }
end

return M
