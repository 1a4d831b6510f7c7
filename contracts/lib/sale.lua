--! policy {"*":"creator","request":"creator","answer":"creator","offer":"creator","accept":"creator","confirm":"all(creator,vehicle:title.issuer?,lienholder?,vehicle:insurance.insurer?)","abort":"creator","expire":"creator","get":"any"}
-- sale.lua — purchase request, seller/buyer conditions, negotiation,
-- confirmation, abort and deadline (seed 000 FIG. 4A, 4B). The settlement
-- itself is settlement.lua, called from the last confirmation.
--
-- State: sale/<VIN>/<id> (id = first 16 hex digits of the request's txid),
-- and a summary in the NFT-VID's purchase_requests.
--
-- request {vin, price, finance?:{lender, amount}, agency?, authority?,
--          delivery?, months?, period_ms?, window_ms?}
--   The creator is the buyer and must be registered. The title is
--   transferred by the vehicle's title agency (vehicle.title.issuer, which
--   must still hold title_agency), never by one the buyer names: an agency
--   argument that differs is refused. authority defaults to the vehicle's
--   registration authority and must hold registration_authority; a
--   finance.lender must hold lender (identity.has_role for every role).
--   The request is recorded (status "requested") and announced to the
--   seller ("sale.requested", to = seller); the sale's deadline (now +
--   window_ms, default 7 days) is put on the schedule; schedule.run_due
--   expires it. Nothing of the seller's is judged here: the seller answers
--   in its own transaction, on its own node.
-- answer {vin, id?, price?}  the seller answers a request: the seller's
--   condition contracts (attached to the vehicle or to the seller's NFT-DID)
--   judge it in the seller's transaction. Unmet -> status "conditions_unmet"
--   and a "sale.notification" to the buyer listing the corrective actions
--   (on the ledger); met -> the seller's offer at price (default: the
--   requested price; lower or higher is a counter-offer).
-- offer {vin, id?, price}   a counter-offer by the party that did not make
--   the latest offer (any number of rounds).
-- accept {vin, id?}         the other party accepts the latest open offer;
--   the accepting party's own condition contracts (the buyer's: attached to
--   its NFT-DID; the seller's as in answer) judge the offer in its own
--   transaction: unmet -> the offer is "rejected", the offerer is told the
--   corrective actions ("sale.notification", "sale.offer_rejected") and
--   either party may counter; met -> "agreed".
-- get {vin, id?}            the sale id, or {vin, sales: [every sale of the vehicle]}.
--
-- Policies (the ledger adds its guards: a write to vehicle/<VIN> needs its
-- owner's organisation, lowering a wallet needs its holder's, writing
-- did/<DID> needs the identity's):
--   request, answer, offer, accept, abort, expire  creator — the party
--     acting; each
--     writes the vehicle's purchase_requests, so the seller's (owner's)
--     organisation endorses through the vehicle guard;
--   confirm  all(creator, vehicle:title.issuer?, lienholder?,
--            vehicle:insurance.insurer?) — the confirming party, and for
--     the settlement the last confirmation runs: the title agency that
--     issued the title and transfers it; the seller's existing lender, whose
--     lien is paid off (its wallet only rises, so no guard names it); the
--     seller's insurer, whose policy the settlement removes from the
--     vehicle (insurance.on_sale writes only vehicle/<VIN>, so no guard
--     names it either). The guards add the rest: the seller's organisation
--     (vehicle write, did/<seller>), the buyer's (its wallet is debited,
--     did/<buyer>), and, financed, the new lender's (its wallet is debited).
--     A parking provider's permit is removed too without its endorsement
--     (a self-declared service role, not a party the settlement must hear).
--   get  any — read-only;
--   *    creator.
--
-- Condition contracts export condition(ctx) where ctx = {side, stage, sale,
-- vehicle, price, buyer_balance}; they return nothing / true / {ok=true}
-- when met, or {ok=false, reason, actions=[...]}; an error counts as unmet.
-- Contracts without a condition function are skipped. A side's condition
-- contracts run only inside that side's own transaction (answer, accept),
-- and the sale refuses the whole tx if one changes the creator's wallet.

local WINDOW_MS = 7 * 24 * 3600 * 1000
local OPEN = { requested = true, negotiating = true, agreed = true }

local M = {}

local function vehicle(vin)
  vl.require(type(vin) == "string", "vin must be a string")
  local v = vl.get("vehicle/" .. vin)
  vl.require(v ~= nil, "vehicle " .. vin .. " is not registered")
  return v
end

local function has_role(did, role)
  return vl.call("identity", "has_role", { did = did, role = role }) == true
end

local function require_role(did, role, what)
  vl.require(type(did) == "string" and #did > 0, what .. " must be a DID")
  vl.require(vl.get("did/" .. did) ~= nil, what .. " " .. did .. " is not registered")
  vl.require(has_role(did, role), what .. " " .. did .. " does not hold the role " .. role)
end

local function cents(x, what)
  vl.require(math.type(x) == "integer" and x > 0,
             what .. " must be a positive integer number of cents")
  return x
end

local function sale_key(vin, id) return "sale/" .. vin .. "/" .. id end

local function sched_key(due, id) return string.format("schedule/%015d/%s", due, id) end

-- The sale named by id, or the one open sale of vin the creator takes part in.
local function find(vin, id)
  if id ~= nil and id ~= vl.null then
    vl.require(type(id) == "string", "id must be a string")
    local s = vl.get(sale_key(vin, id))
    vl.require(s ~= nil, "no sale " .. id .. " for vehicle " .. vin)
    return s
  end
  local me, found = vl.creator(), {}
  for _, row in ipairs(vl.range("sale/" .. vin .. "/")) do
    local s = row.value
    if OPEN[s.status] and (s.seller == me or s.buyer == me or
                           (s.finance and s.finance.lender == me)) then
      found[#found + 1] = s
    end
  end
  vl.require(#found > 0, "no open sale of vehicle " .. vin .. " involves " .. me)
  vl.require(#found == 1, #found .. " open sales of vehicle " .. vin ..
             " involve you: give --id")
  return found[1]
end

local function party(s, did)
  if did == s.seller then return "seller" end
  if did == s.buyer then return "buyer" end
  if s.finance and did == s.finance.lender then return "lender" end
  return nil
end

local function condition_names(side, s, v)
  local names = {}
  local function add(list)
    for _, n in ipairs(list or {}) do names[#names + 1] = n end
  end
  if side == "seller" then
    add(v.contracts and v.contracts.owner)
    local p = vl.get("did/" .. s.seller)
    add(p and p.contracts and p.contracts.generic)
  else
    local p = vl.get("did/" .. s.buyer)
    add(p and p.contracts and p.contracts.generic)
  end
  return names
end

-- Runs side's condition contracts; returns the list of unmet ones.
local function judge(side, s, v, stage, price)
  local ctx = { side = side, stage = stage, sale = s, vehicle = v, price = price,
                buyer_balance = vl.get("wallet/" .. s.buyer) or 0 }
  local unmet = {}
  local me = vl.creator()
  local seen = {}
  for _, name in ipairs(condition_names(side, s, v)) do
    if not seen[name] then
      seen[name] = true
      local before = vl.get("wallet/" .. me)
      local ok, res = pcall(vl.call, name, "condition", ctx)
      vl.require(vl.get("wallet/" .. me) == before,
                 side .. " condition '" .. name .. "' moved funds; refused")
      local miss
      if not ok then
        local msg = tostring(res)
        if not msg:find("has no function 'condition'", 1, true) and
           not msg:find("no contract '" .. name .. "' is deployed", 1, true) then
          miss = { reason = msg, actions = vl.array({}) }
        end
      elseif res == false then
        miss = { reason = "not met", actions = vl.array({}) }
      elseif type(res) == "table" and res.ok == false then
        miss = { reason = tostring(res.reason or "not met"), actions = res.actions or vl.array({}) }
      end
      if miss then
        miss.condition = name
        miss.side = side
        miss.message = side .. " condition '" .. name .. "' not met: " .. miss.reason
        unmet[#unmet + 1] = miss
      end
    end
  end
  return unmet
end

local function notify(to, s, kind, extra)
  local p = { to = to, vin = s.vin, sale = s.id, kind = kind }
  for k, x in pairs(extra or {}) do p[k] = x end
  vl.emit("sale.notification", p)
end

local function actions_of(unmet)
  local a = {}
  for _, u in ipairs(unmet) do
    for _, x in ipairs(u.actions or {}) do a[#a + 1] = x end
  end
  return vl.array(a)
end

local function summary(v, s)
  local list = v.purchase_requests or {}
  local found = false
  for _, pr in ipairs(list) do
    if pr.id == s.id then
      pr.status = s.status
      pr.price = s.agreed_price or s.price
      found = true
    end
  end
  if not found then
    list[#list + 1] = { id = s.id, buyer = s.buyer, price = s.price, status = s.status }
  end
  v.purchase_requests = list
  vl.put("vehicle/" .. v.vin, v)
end

-- Records an open offer by `by`; the other side judges it when it accepts.
local function add_offer(s, v, by, price)
  local offer = { round = #s.offers + 1, by = by, price = price, at = vl.now(), txid = vl.txid(),
                  status = "open" }
  notify(by == s.seller and s.buyer or s.seller, s, "offer",
         { round = offer.round, price = price, by = by })
  s.offers[#s.offers + 1] = offer
  s.status = "negotiating"
  vl.emit("sale.offered", { vin = s.vin, sale = s.id, round = offer.round, by = by,
                            price = price, status = offer.status })
  return offer
end

local function reply(s, extra)
  local r = { id = s.id, vin = s.vin, status = s.status }
  local last = s.offers[#s.offers]
  if last then
    r.round = last.round
    r.offer = last.status
    r.price = last.price
    if last.unmet then r.message = last.unmet[1].message end
  end
  if s.unmet then r.message = s.unmet[1].message end
  for k, x in pairs(extra or {}) do r[k] = x end
  return r
end

function M.request(args)
  local buyer = vl.creator()
  vl.require(vl.get("did/" .. buyer) ~= nil,
             "buyer " .. buyer .. " is not registered: run `vledger identity new` first")
  local v = vehicle(args.vin)
  vl.require(v.owner ~= buyer, "you already own vehicle " .. v.vin)
  local price = cents(args.price, "price")
  local finance
  if args.finance ~= nil and args.finance ~= vl.null then
    vl.require(type(args.finance) == "table", "finance must be {lender, amount}")
    require_role(args.finance.lender, "lender", "lender")
    local amount = cents(args.finance.amount, "financed amount")
    vl.require(amount <= price, "financed amount " .. amount .. " exceeds the price " .. price)
    finance = { lender = args.finance.lender, amount = amount }
  end
  local agency = v.title and v.title.issuer
  vl.require(agency ~= nil, "vehicle " .. v.vin .. " has no title issued by a title agency: " ..
             "its owner must obtain one first (`vledger title request --vin " .. v.vin ..
             " --agency DID`)")
  if args.agency ~= nil and args.agency ~= vl.null and args.agency ~= agency then
    error("the title of " .. v.vin .. " is transferred only by its title agency " .. agency ..
          ", which issued it, not by " .. tostring(args.agency) .. ": omit agency")
  end
  require_role(agency, "title_agency", "title agency")
  local authority = args.authority
  if authority == nil or authority == vl.null then
    authority = v.registration and v.registration.authority
  end
  if authority ~= nil then require_role(authority, "registration_authority", "authority") end
  local months = args.months or 12
  vl.require(math.type(months) == "integer" and months >= 1 and months <= 120,
             "months must be an integer from 1 to 120")
  local period = args.period_ms or (30 * 24 * 3600 * 1000)
  vl.require(math.type(period) == "integer" and period >= 1000,
             "period_ms must be an integer of at least 1000")
  local window = args.window_ms or WINDOW_MS
  vl.require(math.type(window) == "integer" and window >= 1000,
             "window_ms must be an integer of at least 1000")

  local id = vl.txid():sub(1, 16)
  local s = {
    id = id, vin = v.vin, seller = v.owner, buyer = buyer, price = price, finance = finance,
    agency = agency, authority = authority, months = months, period_ms = period,
    delivery = args.delivery, status = "requested", offers = vl.array({}),
    confirmations = vl.object({}), created_at = vl.now(), deadline = vl.now() + window,
    txid = vl.txid(),
  }
  s.deadline_key = sched_key(s.deadline, "sale-" .. id)
  vl.put(s.deadline_key, { kind = "sale_deadline", vin = v.vin, sale = id })
  vl.put(sale_key(v.vin, id), s)
  summary(v, s)
  vl.emit("sale.requested", { vin = v.vin, sale = id, buyer = buyer, seller = v.owner,
                              price = price, to = v.owner,
                              lender = finance and finance.lender or nil,
                              financed = finance and finance.amount or nil })
  notify(v.owner, s, "purchase_request", { price = price, buyer = buyer })
  return reply(s)
end

local function require_open(s)
  vl.require(OPEN[s.status], "sale " .. s.id .. " of vehicle " .. s.vin .. " is " .. s.status)
  vl.require(vl.now() <= s.deadline, "sale " .. s.id .. " passed its deadline " .. s.deadline)
end

function M.answer(args)
  local v = vehicle(args.vin)
  local s = find(v.vin, args.id)
  local me = vl.creator()
  vl.require(me == s.seller, "only the seller " .. s.seller .. " may answer purchase request " ..
             s.id)
  require_open(s)
  vl.require(s.status == "requested", "purchase request " .. s.id .. " was answered already (" ..
             s.status .. ")")
  vl.require(v.owner == s.seller, "vehicle " .. v.vin .. " is no longer owned by the seller " ..
             s.seller)
  local price = s.price
  if args.price ~= nil and args.price ~= vl.null then price = cents(args.price, "price") end
  local unmet = judge("seller", s, v, "request", s.price)
  if #unmet > 0 then
    s.status = "conditions_unmet"
    s.unmet = unmet
    s.ended_at = vl.now()
    if s.deadline_key then vl.del(s.deadline_key) end
    s.deadline_key = nil
    notify(s.buyer, s, "conditions_unmet", { unmet = unmet, actions = actions_of(unmet),
                                             message = unmet[1].message })
    vl.emit("sale.conditions_unmet", { vin = v.vin, sale = s.id, to = s.buyer,
                                       message = unmet[1].message })
  else
    add_offer(s, v, me, price)
  end
  vl.put(sale_key(v.vin, s.id), s)
  summary(v, s)
  return reply(s)
end

function M.offer(args)
  local v = vehicle(args.vin)
  local s = find(v.vin, args.id)
  local me = vl.creator()
  local who = party(s, me)
  vl.require(who == "seller" or who == "buyer", "only the seller or the buyer may make an offer")
  require_open(s)
  vl.require(s.status ~= "agreed", "sale " .. s.id .. " is already agreed at " ..
             tostring(s.agreed_price) .. " cents; confirm or abort")
  vl.require(s.status ~= "requested", "purchase request " .. s.id ..
             " awaits the seller's answer (`vledger sale answer`)")
  local last = s.offers[#s.offers]
  vl.require(last == nil or last.by ~= me or last.status == "rejected",
             "you made the latest offer; wait for the other party to accept or counter")
  local price = cents(args.price, "price")
  add_offer(s, v, me, price)
  vl.put(sale_key(v.vin, s.id), s)
  summary(v, s)
  return reply(s)
end

function M.accept(args)
  local v = vehicle(args.vin)
  local s = find(v.vin, args.id)
  local me = vl.creator()
  local who = party(s, me)
  vl.require(who == "seller" or who == "buyer", "only the seller or the buyer may accept")
  require_open(s)
  vl.require(s.status == "negotiating", "sale " .. s.id .. " has no offer to accept")
  local last = s.offers[#s.offers]
  vl.require(last.by ~= me, "you made the latest offer; the other party must accept or counter")
  vl.require(last.status == "open", "offer round " .. last.round .. " was rejected (" ..
             (last.unmet and last.unmet[1].message or "conditions") .. "); make a counter-offer")
  local unmet = judge(who, s, v, "offer", last.price)
  if #unmet > 0 then
    last.status = "rejected"
    last.unmet = unmet
    local first = unmet[1].message
    notify(last.by, s, "offer_rejected", { round = last.round, unmet = unmet,
                                           actions = actions_of(unmet), message = first })
    notify(me, s, "offer_rejected", { round = last.round, unmet = unmet, message = first })
    vl.put(sale_key(v.vin, s.id), s)
    summary(v, s)
    vl.emit("sale.offer_rejected", { vin = v.vin, sale = s.id, round = last.round, by = me,
                                     price = last.price, to = last.by, message = first })
    return reply(s)
  end
  last.status = "accepted"
  s.status = "agreed"
  s.agreed_price = last.price
  if s.finance then
    vl.require(s.finance.amount <= last.price, "financed amount " .. s.finance.amount ..
               " exceeds the agreed price " .. last.price)
  end
  vl.put(sale_key(v.vin, s.id), s)
  summary(v, s)
  vl.emit("sale.agreed", { vin = v.vin, sale = s.id, price = last.price, seller = s.seller,
                           buyer = s.buyer })
  notify(s.seller, s, "confirm_needed", { price = last.price, deadline = s.deadline })
  notify(s.buyer, s, "confirm_needed", { price = last.price, deadline = s.deadline })
  if s.finance then
    notify(s.finance.lender, s, "confirm_needed", { price = last.price, deadline = s.deadline })
  end
  return reply(s, { agreed_price = last.price, deadline = s.deadline })
end

local function missing(s)
  local need = { "seller", "buyer" }
  if s.finance then need[#need + 1] = "lender" end
  local m = {}
  for _, r in ipairs(need) do
    if not s.confirmations[r] then m[#m + 1] = r end
  end
  return m
end

local function names(s, roles)
  local out = {}
  for _, r in ipairs(roles) do
    local did = (r == "lender") and s.finance.lender or s[r]
    out[#out + 1] = r .. " " .. did
  end
  return out
end

function M.confirm(args)
  local v = vehicle(args.vin)
  local s = find(v.vin, args.id)
  local me = vl.creator()
  local who = party(s, me)
  vl.require(who ~= nil, me .. " is not a party to sale " .. s.id)
  vl.require(s.status == "agreed", "sale " .. s.id .. " is " .. s.status ..
             "; only an agreed sale can be confirmed")
  if vl.now() > s.deadline then
    error("sale " .. s.id .. " passed its deadline " .. s.deadline .. "; not confirmed by: " ..
          table.concat(names(s, missing(s)), ", "))
  end
  vl.require(v.owner == s.seller, "vehicle " .. v.vin .. " is no longer owned by the seller " ..
             s.seller)
  vl.require(not s.confirmations[who], "the " .. who .. " already confirmed sale " .. s.id)
  s.confirmations[who] = vl.now()
  vl.put(sale_key(v.vin, s.id), s)
  vl.emit("sale.confirmed", { vin = v.vin, sale = s.id, by = me, party = who })
  local m = missing(s)
  if #m > 0 then
    return reply(s, { waiting_for = vl.array(m) })
  end
  local res = vl.call("settlement", "settle", { vin = v.vin, id = s.id })
  s = vl.get(sale_key(v.vin, s.id))
  return reply(s, { settlement = res })
end

local function finish(s, status, by, reason)
  local v = vehicle(s.vin)
  s.status = status
  s.ended_at = vl.now()
  s.ended_by = by
  s.reason = reason
  local m = missing(s)
  s.not_confirmed = vl.array(m)
  if s.deadline_key then vl.del(s.deadline_key) end
  vl.put(sale_key(s.vin, s.id), s)
  summary(v, s)
  local nc = names(s, m)
  local text = "sale " .. s.id .. " of " .. s.vin .. " " .. status ..
               (#nc > 0 and ("; not confirmed by: " .. table.concat(nc, ", ")) or "")
  vl.emit("sale." .. status, { vin = s.vin, sale = s.id, by = by,
                               not_confirmed = vl.array(nc), reason = reason })
  local parties = { s.seller, s.buyer }
  if s.finance then parties[#parties + 1] = s.finance.lender end
  for _, p in ipairs(parties) do
    notify(p, s, status, { not_confirmed = vl.array(nc), message = text })
  end
  return { id = s.id, vin = s.vin, status = status, not_confirmed = vl.array(nc), message = text }
end

function M.abort(args)
  local v = vehicle(args.vin)
  local s = find(v.vin, args.id)
  local me = vl.creator()
  vl.require(party(s, me) ~= nil, me .. " is not a party to sale " .. s.id)
  vl.require(OPEN[s.status], "sale " .. s.id .. " is " .. s.status .. "; nothing to abort")
  local reason = args.reason
  if reason == vl.null then reason = nil end
  return finish(s, "aborted", me, reason)
end

function M.expire(args)
  local v = vehicle(args.vin)
  vl.require(type(args.id) == "string", "id must be a string")
  local s = vl.get(sale_key(v.vin, args.id))
  vl.require(s ~= nil, "no sale " .. args.id .. " for vehicle " .. v.vin)
  vl.require(OPEN[s.status], "sale " .. s.id .. " is " .. s.status .. "; nothing to expire")
  vl.require(vl.now() > s.deadline, "sale " .. s.id .. " is open until " .. s.deadline)
  return finish(s, "expired", vl.creator(), "no confirmation by the deadline")
end

function M.get(args)
  local v = vehicle(args.vin)
  if args.id ~= nil and args.id ~= vl.null then return find(v.vin, args.id) end
  local list = {}
  for _, row in ipairs(vl.range("sale/" .. v.vin .. "/")) do list[#list + 1] = row.value end
  return { vin = v.vin, sales = vl.array(list) }
end

return M
