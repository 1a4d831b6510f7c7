-- rules/buyer.lua — a buyer's negotiation rule, run by the buyer's node
-- (docs/reactors.md): when the seller answers one of the buyer's purchase
-- requests or counters an offer, the buyer's node accepts it at or below
-- CEILING (sale.accept judges it by the buyer's condition contracts, on
-- this node, in the buyer's transaction) and otherwise counters at CEILING;
-- after MAX_ROUNDS offers it leaves the sale to a person. When a purchase
-- settles and INSURER names an insurer, the buyer's node asks it to insure
-- the vehicle (insurance.request; the insurer's node answers by its rule).
-- A buyer copies this file and sets CEILING, INSURER and the policy terms.
--
--   vledger contract deploy --name buyer_rules --file rules/buyer.lua
--   vledger reactor add --topic event.sale.offered --contract buyer_rules --function on_offer
--   vledger reactor add --topic event.sale.settled --contract buyer_rules --function on_settled
local CEILING = 860000      -- cents
local MAX_ROUNDS = 6
local INSURER = nil         -- "did:vl:..." of the insurer to ask, or nil
local COVERAGE = 3000000    -- cents
local PREMIUM = 9000        -- cents per period
local PERIOD_MS = 30 * 24 * 3600 * 1000
local YEAR_MS = 365 * 24 * 3600 * 1000

local M = {}

function M.on_offer(ctx)
  local p = ctx.event.payload
  local s = vl.get("sale/" .. p.vin .. "/" .. p.sale)
  if s == nil or s.buyer ~= ctx.self or p.by ~= s.seller then return nil end
  if s.status ~= "negotiating" or p.status ~= "open" or #s.offers ~= p.round then
    return nil   -- not the latest open offer any more
  end
  if p.price <= CEILING then
    return { contract = "sale", ["function"] = "accept", args = { vin = p.vin, id = p.sale } }
  end
  if p.round >= MAX_ROUNDS then return nil end
  return { contract = "sale", ["function"] = "offer",
           args = { vin = p.vin, id = p.sale, price = CEILING } }
end

function M.on_settled(ctx)
  local p = ctx.event.payload
  if INSURER == nil or p.buyer ~= ctx.self then return nil end
  return { contract = "insurance", ["function"] = "request",
           args = { vin = p.vin, provider = INSURER, policy = "POL-" .. p.sale:sub(1, 8),
                    coverage = COVERAGE, premium = PREMIUM, period_ms = PERIOD_MS,
                    valid_until = vl.now() + YEAR_MS } }
end

return M
