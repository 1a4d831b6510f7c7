-- rules/seller.lua — a seller's negotiation rules, run by the seller's node
-- (docs/reactors.md). A purchase request for one of the seller's vehicles
-- is answered by sale.answer, in which the seller's condition contracts
-- judge it (unmet: the buyer gets the corrective notice); the answer offers
-- the requested price at or above FLOOR, else FLOOR. When the buyer makes an
-- offer, the seller's node accepts it at or above FLOOR (sale.accept judges
-- it by the seller's conditions again) and otherwise counters at FLOOR;
-- after MAX_ROUNDS offers it leaves the sale to a person. A seller copies
-- this file and sets FLOOR.
--
--   vledger contract deploy --name seller_rules --file rules/seller.lua
--   vledger reactor add --topic event.sale.requested --contract seller_rules --function on_request
--   vledger reactor add --topic event.sale.offered --contract seller_rules --function on_offer
local FLOOR = 850000        -- cents
local MAX_ROUNDS = 6

local M = {}

function M.on_request(ctx)
  local p = ctx.event.payload
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.seller ~= ctx.self or s.status ~= "requested" then return nil end
  local price = p.price
  if price < FLOOR then price = FLOOR end
  return { contract = "sale", ["function"] = "answer",
           args = { vin = p.vin, id = p.sale, price = price } }
end

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
