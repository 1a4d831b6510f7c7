--! policy {"*":"creator","run_due":"any","pay_arrears":"creator","list":"any"}
-- schedule.lua — scheduled payments and deadlines at
-- schedule/<due-ms, 15 digits>/<id> (DESIGN §2).
--
-- run_due {limit?=50} runs every entry due as of vl.now() (the proposal
--   timestamp), oldest first, and deletes it; refuses "nothing is due as of
--   T" when there is none, so a second run of the same due entry (a retried
--   or duplicated reactor tx) never pays twice. Anyone may submit it (the
--   node's reactor does after each block whose time passes a due date):
--   what runs is decided by the entries alone.
--   Kinds:
--   instalment {vin, sale, n}: the borrower (the vehicle's owner) pays the
--     instalment to the lender; insufficient funds -> "payment.missed", the
--     financing state "late" and the amount added to arrears. The next
--     instalment is scheduled; after the last one, with no arrears, the lien
--     is released and the financing data cleared ("lien.released").
--   premium {vin, service, request, n}: the owner pays the insurance premium
--     (or parking fee) to the provider; insufficient funds ->
--     "payment.missed" and state "late" (key use is then denied); the next
--     premium is scheduled while before valid_until.
--   sale_deadline {vin, sale}: sale.expire (a no-op if the sale has ended).
-- pay_arrears {vin}  the owner pays the instalment arrears to the lender;
--   clears "late" and releases the lien after the last instalment.
-- list {} -> every schedule entry {key, due, value}
--
-- Policies (the ledger adds its guards: each vehicle written needs its
-- owner's organisation, each wallet debited its holder's):
--   run_due  any — anyone may submit it (the reactor of any node); what runs
--     is decided by the entries, and the guards bring in every payer and
--     owner it touches;
--   pay_arrears  creator — the owner (= guard);
--   list     any — read-only;
--   *        creator.

local M = {}

local function due_of(key) return math.tointeger(tonumber(key:match("^schedule/(%d+)/"))) end

local function key_of(due, id) return string.format("schedule/%015d/%s", due, id) end

local function release(v, f)
  v.financing = nil
  vl.emit("lien.released", { vin = v.vin, lender = f.lender, to = v.owner, principal = f.principal })
end

local function instalment(e, due)
  local v = vl.get("vehicle/" .. e.vin)
  local f = v and v.financing
  if f == nil or f.sale ~= e.sale then
    return { skipped = "financing of sale " .. tostring(e.sale) .. " no longer exists" }
  end
  local amount = f.instalment
  if e.n == f.months then amount = f.principal - f.instalment * (f.months - 1) end
  local payer = v.owner
  local bal = vl.get("wallet/" .. payer) or 0
  local out = { vin = v.vin, n = e.n, of = f.months, cents = amount, payer = payer,
                lender = f.lender }
  if bal >= amount then
    vl.transfer(payer, f.lender, amount)
    f.paid = f.paid + 1
    f.balance = f.balance - amount
    vl.emit("payment.made", out)
    out.paid = true
  else
    f.arrears = f.arrears + amount
    f.missed = (f.missed or 0) + 1
    f.state = "late"
    out.balance = bal
    out.to = payer
    vl.emit("payment.missed", out)
    vl.emit("payment.notification", { to = f.lender, vin = v.vin, n = e.n, cents = amount,
                                      payer = payer, reason = "insufficient funds" })
    out.paid = false
  end
  f.processed = e.n
  if e.n < f.months then
    local next_due = due + f.period_ms
    f.next_due = next_due
    f.next_key = key_of(next_due, "inst-" .. v.vin .. "-" .. e.sale .. "-" .. (e.n + 1))
    vl.put(f.next_key, { kind = "instalment", vin = v.vin, sale = e.sale, n = e.n + 1 })
    v.financing = f
  else
    f.next_key = nil
    f.next_due = nil
    v.financing = f
    if f.arrears == 0 then release(v, f) end
  end
  vl.put("vehicle/" .. v.vin, v)
  return out
end

local function premium(e, due)
  local v = vl.get("vehicle/" .. e.vin)
  local rec = v and v[e.service]
  if rec == nil or rec.request ~= e.request or rec.state == "cancelled" then
    return { skipped = e.service .. " " .. tostring(e.request) .. " is no longer active" }
  end
  local provider = rec.insurer or rec.provider
  local payer = v.owner
  local bal = vl.get("wallet/" .. payer) or 0
  local out = { vin = v.vin, n = e.n, cents = rec.premium, payer = payer, provider = provider,
                service = e.service }
  if bal >= rec.premium then
    vl.transfer(payer, provider, rec.premium)
    rec.paid = (rec.paid or 0) + 1
    vl.emit("payment.made", out)
    out.paid = true
  else
    rec.state = "late"
    rec.missed = (rec.missed or 0) + 1
    out.balance = bal
    out.to = payer
    vl.emit("payment.missed", out)
    vl.emit("payment.notification", { to = provider, vin = v.vin, service = e.service,
                                      cents = rec.premium, payer = payer,
                                      reason = "insufficient funds" })
    out.paid = false
  end
  local next_due = due + rec.period_ms
  if next_due < rec.valid_until then
    rec.next_due = next_due
    rec.next_key = key_of(next_due, "prem-" .. v.vin .. "-" .. e.request .. "-" .. (e.n + 1))
    vl.put(rec.next_key, { kind = "premium", vin = v.vin, service = e.service,
                           request = e.request, n = e.n + 1 })
  else
    rec.next_due = nil
    rec.next_key = nil
  end
  v[e.service] = rec
  vl.put("vehicle/" .. v.vin, v)
  return out
end

local function deadline(e)
  local ok, res = pcall(vl.call, "sale", "expire", { vin = e.vin, id = e.sale })
  if ok then return res end
  return { skipped = tostring(res) }
end

function M.run_due(args)
  local now = vl.now()
  local limit = args.limit or 50
  vl.require(math.type(limit) == "integer" and limit >= 1 and limit <= 200,
             "limit must be an integer from 1 to 200")
  local ran = {}
  for _, row in ipairs(vl.range("schedule/")) do
    local due = due_of(row.key)
    if due == nil or due > now or #ran >= limit then break end
    local e = row.value
    vl.del(row.key)
    local res
    if e.kind == "instalment" then
      res = instalment(e, due)
    elseif e.kind == "premium" then
      res = premium(e, due)
    elseif e.kind == "sale_deadline" then
      res = deadline(e)
    else
      res = { skipped = "unknown kind " .. tostring(e.kind) }
    end
    ran[#ran + 1] = { key = row.key, kind = e.kind, due = due, result = res }
  end
  vl.require(#ran > 0, "nothing is due as of " .. now)
  vl.emit("schedule.ran", { count = #ran, at = now })
  return { ran = ran, count = #ran }
end

function M.pay_arrears(args)
  vl.require(type(args.vin) == "string", "vin must be a string")
  local v = vl.get("vehicle/" .. args.vin)
  vl.require(v ~= nil, "vehicle " .. args.vin .. " is not registered")
  local f = v.financing
  vl.require(f ~= nil and f.arrears > 0, "vehicle " .. v.vin .. " has no arrears")
  vl.require(vl.creator() == v.owner, "only the owner may pay the arrears")
  local bal = vl.get("wallet/" .. v.owner) or 0
  vl.require(bal >= f.arrears, "arrears of " .. f.arrears .. " cents cannot be paid: wallet holds "
             .. bal .. " cents")
  vl.transfer(v.owner, f.lender, f.arrears)
  vl.emit("payment.made", { vin = v.vin, cents = f.arrears, payer = v.owner, lender = f.lender,
                            arrears = true })
  f.balance = f.balance - f.arrears
  f.arrears = 0
  f.state = "current"
  v.financing = f
  if f.processed == f.months then release(v, f) end
  vl.put("vehicle/" .. v.vin, v)
  return { vin = v.vin, financing = v.financing or vl.null }
end

function M.list(args)
  local out = {}
  for _, row in ipairs(vl.range("schedule/")) do
    out[#out + 1] = { key = row.key, due = due_of(row.key), value = row.value }
  end
  return vl.array(out)
end

return M
