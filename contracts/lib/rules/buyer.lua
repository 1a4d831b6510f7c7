-- rules/buyer.lua — a buyer's negotiation rule, run by the buyer's node
-- (docs/reactors.md): when the seller makes or counters an offer on one of
-- the buyer's purchase requests, the buyer's node accepts it at or below
-- CEILING and otherwise answers once with a counter-offer at CEILING; after
-- MAX_ROUNDS offers it leaves the sale to a person. A buyer copies this
-- file and sets CEILING.
--
--   vledger contract deploy --name buyer_rules --file rules/buyer.lua
--   vledger reactor add --topic event.sale.offered --contract buyer_rules --function on_offer
local CEILING = 860000      -- cents
local MAX_ROUNDS = 6

local M = {}

function M.on_offer(ctx)
  local p = ctx.event.payload
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.buyer ~= ctx.self or p.by ~= s.seller then return nil end
  if s.status ~= "negotiating" or p.status ~= "open" or #s.offers ~= p.round then
    return nil   -- not the latest open offer any more
  end
  -- The seller's first offer answers the buyer's own request: that price
  -- was the buyer's, a person's decision; only counter-offers are judged.
  if p.round == 1 then return nil end
  if p.price <= CEILING then
    return { contract = "sale", ["function"] = "accept", args = { vin = p.vin, id = p.sale } }
  end
  if p.round >= MAX_ROUNDS then return nil end
  return { contract = "sale", ["function"] = "offer",
           args = { vin = p.vin, id = p.sale, price = CEILING } }
end

return M
