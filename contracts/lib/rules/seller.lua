-- rules/seller.lua — a seller's negotiation rule, run by the seller's node
-- (docs/reactors.md): when the buyer makes an offer on one of the seller's
-- sales, the seller's node accepts it at or above FLOOR and otherwise
-- answers once with a counter-offer at FLOOR; after MAX_ROUNDS offers it
-- leaves the sale to a person. A seller copies this file and sets FLOOR.
--
--   vledger contract deploy --name seller_rules --file rules/seller.lua
--   vledger reactor add --topic event.sale.offered --contract seller_rules --function on_offer
local FLOOR = 850000        -- cents
local MAX_ROUNDS = 6

local M = {}

function M.on_offer(ctx)
  local p = ctx.event.payload
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.seller ~= ctx.self or p.by ~= s.buyer then return nil end
  if s.status ~= "negotiating" or p.status ~= "open" or #s.offers ~= p.round then
    return nil   -- not the latest open offer any more
  end
  if p.price >= FLOOR then
    return { contract = "sale", ["function"] = "accept", args = { vin = p.vin, id = p.sale } }
  end
  if p.round >= MAX_ROUNDS then return nil end
  return { contract = "sale", ["function"] = "offer",
           args = { vin = p.vin, id = p.sale, price = FLOOR } }
end

return M
