-- confirm_rule.lua — a party's reactor rule for the tests: confirm every
-- agreed sale it is a party to (a pre-authorised confirmation). The
-- confirmation needs the vehicle's title agency's organisation, so with the
-- agency's node down the party's node waits for it.
local M = {}

function M.react(ctx)
  local p = ctx.event.payload
  if p.seller ~= ctx.self and p.buyer ~= ctx.self then return nil end
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.status ~= "agreed" then return nil end
  local who = (p.seller == ctx.self) and "seller" or "buyer"
  if s.confirmations[who] then return nil end
  return { contract = "sale", ["function"] = "confirm", args = { vin = p.vin, id = p.sale } }
end

return M
