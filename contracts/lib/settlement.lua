--! policy {"*":"creator"}
-- settlement.lua — settlement of an agreed, fully confirmed sale (seed 000
-- FIG. 5) as a chain of contracts: sale.confirm -> settlement.settle ->
-- insurance.on_sale, keys.on_sale, pairing.on_sale.
--
-- ATOMIC vs FOLLOW-UP (the decision; docs/lifecycle.md explains it too)
--
-- One atomic transaction (the last confirmation) does everything whose
-- parts must never be seen apart, because each half alone would break an
-- invariant the ledger promises:
--   1. money: cash sale buyer -> seller (price); financed sale buyer ->
--      lender (down payment = price - financed amount) and lender -> seller
--      (full price); the seller's own lien, if any, paid off from the
--      proceeds seller -> old lender; title-transfer fee buyer -> agency;
--      registration fee buyer -> authority. All or nothing: a partial
--      payment with no ownership change (or the reverse) would be theft.
--   2. ownership: owners[] appended, owner = buyer, owned lists of both
--      NFT-DIDs updated, the seller's contracts detached.
--   3. title transferred to the buyer by the vehicle's title agency (the
--      issuer of its current title, which the sale recorded and which must
--      still be the issuer and still hold title_agency; its endorsement is
--      required by sale.confirm's policy, vehicle:title.issuer), number
--      derived from txid. The seller's endorsement_policy on the vehicle,
--      if any, is removed: the buyer's vehicle does not carry the seller's
--      policy (setting this write needed that policy, as any write to it).
--   4. financing data (lien) into the NFT-VID and the first instalment put
--      on the schedule; the seller's insurance removed and the insurer
--      notified; all existing keys revoked and the buyer's default owner
--      key issued; the seller's device pairings removed. These are cheap,
--      deterministic, need no third-party decision, and a buyer who owns
--      the car while the seller still holds a working key would be unsafe.
--
-- Follow-up transactions, each by the party that must decide and sign it,
-- each idempotent (a second run is refused):
--   - registration: the authority assigns a plate (title.register); the fee
--     is already paid and the registration is "pending" meanwhile (key use
--     is denied until then). A plate is the authority's own decision.
--   - insurance for the buyer (insurance.request/approve): needs the
--     insurer's underwriting decision.
--   - instalments (schedule.run_due, by the node's reactor when block time
--     passes the due date): they happen months later by definition.
--
-- settle {vin, id}  callable only from contract:sale. Refusals besides the
--   funds checks: the title was reissued by another agency since the
--   request, or the agency, the lender or the authority no longer holds its
--   role (identity.has_role).
--
-- Policy: settle runs only inside sale.confirm, whose policy (and the
-- ledger's guards on what the settlement writes) decides who endorses; see
-- sale.lua. The "*" entry here never applies to a transaction.

local TRANSFER_FEE = 2500
local REGISTRATION_FEE = 3000

local M = {}

local function balance(did) return vl.get("wallet/" .. did) or 0 end

local function require_role(did, role, what)
  vl.require(vl.call("identity", "has_role", { did = did, role = role }) == true,
             "the " .. what .. " " .. did .. " no longer holds the role " .. role ..
             "; the sale cannot settle")
end

local function remove_vin(list, vin)
  local out, removed = {}, nil
  for _, o in ipairs(list or {}) do
    if o.vin == vin then removed = o else out[#out + 1] = o end
  end
  return vl.array(out), removed
end

function M.settle(args)
  vl.require(vl.caller() == "contract:sale", "settlement.settle may only be called by the sale contract")
  local vin = args.vin
  local skey = "sale/" .. vin .. "/" .. args.id
  local s = vl.get(skey)
  vl.require(s ~= nil and s.status == "agreed", "sale " .. tostring(args.id) .. " is not agreed")
  local v = vl.get("vehicle/" .. vin)
  local seller, buyer, price = s.seller, s.buyer, s.agreed_price
  local fees = TRANSFER_FEE + (s.authority and REGISTRATION_FEE or 0)
  local financed = s.finance and s.finance.amount or 0
  local down = price - financed

  -- Checks first, so a refusal names what is missing.
  vl.require(v.title ~= nil and v.title.issuer == s.agency, "the title of " .. vin ..
             " was reissued by " .. tostring(v.title and v.title.issuer) .. " since sale " ..
             s.id .. " was requested with agency " .. tostring(s.agency) ..
             ": abort it and request the sale again")
  require_role(s.agency, "title_agency", "title agency")
  if s.finance then require_role(s.finance.lender, "lender", "lender") end
  if s.authority then require_role(s.authority, "registration_authority", "authority") end
  local need = down + fees
  vl.require(balance(buyer) >= need, "settlement needs " .. need .. " cents from the buyer " ..
             buyer .. " (" .. (financed > 0 and "down payment " or "price ") .. down ..
             " + fees " .. fees .. "); the buyer wallet holds " .. balance(buyer) .. " cents")
  if financed > 0 then
    vl.require(balance(s.finance.lender) >= financed,
               "settlement needs " .. financed .. " cents from the lender " .. s.finance.lender ..
               " (price " .. price .. " less the down payment " .. down ..
               "); the lender wallet holds " .. balance(s.finance.lender) .. " cents")
  end

  -- 1. money
  if financed > 0 then
    if down > 0 then vl.transfer(buyer, s.finance.lender, down) end
    vl.transfer(s.finance.lender, seller, price)
  else
    vl.transfer(buyer, seller, price)
  end
  vl.transfer(buyer, s.agency, TRANSFER_FEE)
  if s.authority then vl.transfer(buyer, s.authority, REGISTRATION_FEE) end
  vl.emit("settlement.paid", { vin = vin, sale = s.id, price = price, down_payment = down,
                               financed = financed, seller = seller, buyer = buyer,
                               fees = fees })
  local old = v.financing
  if old ~= nil and old.balance and old.balance > 0 then
    vl.require(balance(seller) >= old.balance, "the seller's lien of " .. old.balance ..
               " cents to " .. old.lender .. " cannot be paid off from the proceeds")
    vl.transfer(seller, old.lender, old.balance)
    if old.next_key then vl.del(old.next_key) end
    vl.emit("lien.released", { vin = vin, lender = old.lender, paid_off = old.balance,
                               to = old.lender })
  end
  v.financing = nil

  -- 2. ownership
  v.owners[#v.owners + 1] = { did = buyer, since = vl.now(), sale = s.id, txid = vl.txid() }
  v.owner = buyer
  local old_policy = v.endorsement_policy
  v.endorsement_policy = nil
  v.contracts = v.contracts or {}
  v.contracts.owner = vl.array({})
  local sp = vl.get("did/" .. seller)
  if sp then
    sp.owned = remove_vin(sp.owned, vin)
    vl.put("did/" .. seller, sp)
  end

  -- 3. title
  local prev = v.title and v.title.number
  v.title = { status = "valid", number = "T" .. vl.txid():sub(1, 10):upper(), issuer = s.agency,
              holder = buyer, issued_at = vl.now(), previous = prev, sale = s.id }
  vl.emit("title.transferred", { vin = vin, from = seller, to = buyer, agency = s.agency,
                                 number = v.title.number, fee = TRANSFER_FEE })
  if old_policy ~= nil then
    vl.emit("vehicle.policy_set", { vin = vin, policy = vl.null, previous = old_policy,
                                    by = buyer, reason = "sale " .. s.id })
  end
  if s.authority then
    v.registration = { status = "pending", authority = s.authority, fee = REGISTRATION_FEE,
                       previous_plate = v.registration and v.registration.plate,
                       requested_at = vl.now() }
    vl.emit("registration.requested", { vin = vin, authority = s.authority, to = s.authority,
                                        fee = REGISTRATION_FEE, holder = buyer })
  else
    v.registration = { status = "unregistered" }
  end

  -- 4. lien and instalment schedule
  if financed > 0 then
    local inst = financed // s.months
    local due = vl.now() + s.period_ms
    local key = string.format("schedule/%015d/inst-%s-%s-1", due, vin, s.id)
    v.financing = { lender = s.finance.lender, principal = financed, balance = financed,
                    months = s.months, instalment = inst, period_ms = s.period_ms,
                    paid = 0, processed = 0, arrears = 0, state = "current",
                    next_due = due, next_key = key, sale = s.id, borrower = buyer }
    vl.put(key, { kind = "instalment", vin = vin, sale = s.id, n = 1 })
    vl.emit("lien.recorded", { vin = vin, lender = s.finance.lender, principal = financed,
                               months = s.months, instalment = inst, first_due = due })
  end
  vl.put("vehicle/" .. vin, v)

  local bp = vl.get("did/" .. buyer)
  bp.owned = bp.owned or {}
  bp.owned[#bp.owned + 1] = { vin = vin, contracts = vl.array({}), keys = vl.array({}) }
  vl.put("did/" .. buyer, bp)

  -- chained contracts: insurance, keys, pairings
  vl.call("insurance", "on_sale", { vin = vin, seller = seller, buyer = buyer, sale = s.id })
  local key = vl.call("keys", "on_sale", { vin = vin, seller = seller, buyer = buyer, sale = s.id })
  vl.call("pairing", "on_sale", { vin = vin, seller = seller, buyer = buyer, sale = s.id })

  s = vl.get(skey)
  s.status = "settled"
  s.settled_at = vl.now()
  s.settlement_txid = vl.txid()
  if s.deadline_key then vl.del(s.deadline_key) end
  vl.put(skey, s)
  v = vl.get("vehicle/" .. vin)
  for _, pr in ipairs(v.purchase_requests or {}) do
    if pr.id == s.id then pr.status = "settled"; pr.price = price end
  end
  vl.put("vehicle/" .. vin, v)
  vl.emit("sale.settled", { vin = vin, sale = s.id, seller = seller, buyer = buyer,
                            price = price, financed = financed, key_id = key.key_id })
  return { owner = buyer, title = v.title.number, key_id = key.key_id, financed = financed }
end

return M
