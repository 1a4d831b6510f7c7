--! policy {"*":"creator","request":"creator","correct":"creator","approve":"all(owner,arg:provider)","cancel":"all(creator,vehicle:insurance.insurer?)","set_rule":"all(creator,role:registration_authority)","confirm_end":"creator","verify":"any"}
-- insurance.lua — insurance association and premiums (seed 000 FIG. 6);
-- the same path serves other third-party services (kind "parking").
--
-- request {vin, kind?="insurance"|"parking", provider, policy, premium,
--          period_ms, valid_until, coverage? (insurance), zone? (parking)}
--   by the vehicle's owner or by the provider (role insurer for insurance,
--   service for parking). Opens service_request/<VIN>/<id> awaiting the
--   other party's approval. The verification (verify below) runs at once:
--   unmet -> "service.correction" notification with corrective actions and
--   status "needs_correction" (recorded, so the notice is on the ledger).
-- correct {vin, id, coverage?, premium?, valid_until?, zone?, policy?}
--   the requester amends and the verification runs again.
-- approve {vin, id, provider}  the other party; provider must name the
--   request's provider (the policy brings its organisation in through
--   arg:provider); verification again; met -> the NFT-VID
--   gets insurance {insurer, policy, coverage, valid_until, premium,
--   period_ms, state "active"} (or parking {...}) and the first premium is
--   put on the schedule at now + period_ms (schedule.lua runs it and
--   schedules the next while before valid_until).
-- cancel {vin, kind?}  owner or provider; state "cancelled".
-- set_rule {kind, min_coverage}  an identity holding the role
--   registration_authority sets the agency rule (default insurance minimum
--   coverage DEFAULT_MIN_COVERAGE cents).
-- verify {vin, kind, coverage, valid_until, zone?} -> {ok, reason?, actions}
-- on_sale {vin, seller, buyer}  from contract:settlement: removes the
--   seller's insurance and services from the vehicle; each one's service
--   request becomes "ended_by_sale" and its provider is told
--   ("<kind>.removed", to = provider).
-- confirm_end {vin, id}  the provider confirms that a policy or permit the
--   sale ended is cancelled on its side: the request becomes "ended" and the
--   former holder is told ("<kind>.end_confirmed", to = holder). Once only.
--
-- Roles (insurer for insurance, service for parking, registration_authority
-- for rules) are checked through identity.has_role (vl.call): an insurer
-- holds the role only through an insurer organisation (docs/trust.md);
-- service is self-declared.
--
-- Policies (the ledger adds its guard: a write to vehicle/<VIN> needs its
-- owner's organisation):
--   request, correct  creator — the requester (owner or provider); writes
--     only service_request/, the other party approves later;
--   approve  all(owner,arg:provider) — the owner and the provider both:
--     the association is their agreement, whichever of them approves;
--   cancel   all(creator,vehicle:insurance.insurer?) — the canceller and
--     the insurer of the vehicle's insurance, when there is one (an owner
--     cannot drop an insurer's policy without its organisation; the policy
--     cannot tell the kind, so a parking cancellation on an insured vehicle
--     needs the insurer too); the owner's organisation through the guard;
--   set_rule all(creator,role:registration_authority);
--   confirm_end creator — the provider (writes only service_request/);
--   verify   any — read-only;
--   *        creator (on_sale runs only inside sale.confirm).

local DEFAULT_MIN_COVERAGE = 2500000
local KINDS = { insurance = "insurer", parking = "service" }

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

local function kind_of(k)
  if k == nil or k == vl.null then k = "insurance" end
  vl.require(KINDS[k] ~= nil, "kind must be 'insurance' or 'parking'")
  return k
end

local function rule(kind)
  local r = vl.get("rule/" .. kind) or {}
  if kind == "insurance" and r.min_coverage == nil then r.min_coverage = DEFAULT_MIN_COVERAGE end
  return r
end

local function check(kind, req)
  local r = rule(kind)
  if req.valid_until <= vl.now() then
    return { ok = false, reason = "the policy's valid_until " .. req.valid_until ..
             " is not in the future", actions = { "extend valid_until" } }
  end
  if kind == "insurance" then
    if (req.coverage or 0) < r.min_coverage then
      return { ok = false, reason = "coverage " .. tostring(req.coverage or 0) ..
               " cents is below the agency minimum of " .. r.min_coverage .. " cents",
               actions = { "raise coverage to at least " .. r.min_coverage .. " cents" } }
    end
  else
    if type(req.zone) ~= "string" or #req.zone == 0 then
      return { ok = false, reason = "a parking permit needs a zone",
               actions = { "name the permit's zone" } }
    end
  end
  return { ok = true }
end

function M.verify(args)
  local kind = kind_of(args.kind)
  local res = check(kind, { coverage = args.coverage, valid_until = args.valid_until or 0,
                            zone = args.zone })
  return res
end

local function req_key(vin, id) return "service_request/" .. vin .. "/" .. id end

local function validate_fields(req)
  vl.require(type(req.policy) == "string" and #req.policy > 0 and #req.policy <= 64,
             "policy must be a policy number of 1..64 characters")
  vl.require(math.type(req.premium) == "integer" and req.premium > 0,
             "premium must be a positive integer number of cents")
  vl.require(math.type(req.period_ms) == "integer" and req.period_ms >= 1000,
             "period_ms must be an integer of at least 1000")
  vl.require(math.type(req.valid_until) == "integer", "valid_until must be a time in ms")
  if req.coverage ~= nil then
    vl.require(math.type(req.coverage) == "integer" and req.coverage >= 0,
               "coverage must be an integer number of cents")
  end
end

local function run_check(v, req)
  local res = check(req.kind, req)
  if res.ok then
    req.status = "awaiting_approval"
    req.reason = nil
  else
    req.status = "needs_correction"
    req.reason = res.reason
    for _, to in ipairs({ v.owner, req.provider }) do
      vl.emit("service.correction", { to = to, vin = v.vin, id = req.id, kind = req.kind,
                                      reason = res.reason, actions = res.actions })
    end
  end
  return res
end

function M.request(args)
  local v = vehicle(args.vin)
  local kind = kind_of(args.kind)
  local me = vl.creator()
  local provider = args.provider
  vl.require(type(provider) == "string" and vl.get("did/" .. provider) ~= nil,
             "provider " .. tostring(provider) .. " is not registered")
  vl.require(has_role(provider, KINDS[kind]), "provider " .. provider ..
             " does not hold the role " .. KINDS[kind])
  vl.require(me == v.owner or me == provider, "only the owner of " .. v.vin ..
             " or the provider may request " .. kind)
  local req = { id = kind:sub(1, 1):upper() .. vl.txid():sub(1, 12), vin = v.vin, kind = kind,
                provider = provider, policy = args.policy, premium = args.premium,
                period_ms = args.period_ms, valid_until = args.valid_until,
                coverage = args.coverage, zone = args.zone, by = me, owner = v.owner,
                approver = (me == v.owner) and provider or v.owner, at = vl.now() }
  validate_fields(req)
  local res = run_check(v, req)
  vl.put(req_key(v.vin, req.id), req)
  vl.emit(kind .. ".requested", { vin = v.vin, id = req.id, by = me, to = req.approver,
                                  status = req.status })
  return { id = req.id, status = req.status, reason = res.reason,
           message = (not res.ok) and (kind .. " verification not met: " .. res.reason) or nil }
end

local function get_req(vin, id)
  vl.require(type(id) == "string", "id must be a string")
  local req = vl.get(req_key(vin, id))
  vl.require(req ~= nil, "no service request " .. id .. " for vehicle " .. vin)
  vl.require(req.status == "awaiting_approval" or req.status == "needs_correction",
             "service request " .. id .. " is " .. req.status)
  return req
end

function M.correct(args)
  local v = vehicle(args.vin)
  local req = get_req(v.vin, args.id)
  vl.require(vl.creator() == req.by, "only the requester " .. req.by .. " may correct request " ..
             req.id)
  for _, f in ipairs({ "coverage", "premium", "valid_until", "zone", "policy", "period_ms" }) do
    if args[f] ~= nil and args[f] ~= vl.null then req[f] = args[f] end
  end
  validate_fields(req)
  local res = run_check(v, req)
  vl.put(req_key(v.vin, req.id), req)
  return { id = req.id, status = req.status, reason = res.reason,
           message = (not res.ok) and (req.kind .. " verification not met: " .. res.reason) or nil }
end

function M.approve(args)
  local v = vehicle(args.vin)
  local req = get_req(v.vin, args.id)
  vl.require(vl.creator() == req.approver, "only " .. req.approver .. " may approve request " ..
             req.id)
  vl.require(args.provider == req.provider, "provider must name the provider " .. req.provider ..
             " of request " .. req.id .. " (its organisation endorses the approval)")
  vl.require(has_role(req.provider, KINDS[req.kind]), "provider " .. req.provider ..
             " no longer holds the role " .. KINDS[req.kind])
  vl.require(v.owner == req.owner, "vehicle " .. v.vin .. " changed owner since request " ..
             req.id)
  local res = run_check(v, req)
  if not res.ok then
    vl.put(req_key(v.vin, req.id), req)
    return { id = req.id, status = req.status, reason = res.reason,
             message = req.kind .. " verification not met: " .. res.reason }
  end
  req.status = "approved"
  vl.put(req_key(v.vin, req.id), req)
  local old = v[req.kind]
  if old and old.next_key then vl.del(old.next_key) end
  local due = vl.now() + req.period_ms
  local rec = { policy = req.policy, coverage = req.coverage, zone = req.zone,
                valid_until = req.valid_until, premium = req.premium, period_ms = req.period_ms,
                state = "active", since = vl.now(), request = req.id, holder = v.owner }
  if req.kind == "insurance" then rec.insurer = req.provider else rec.provider = req.provider end
  if due < req.valid_until then
    rec.next_key = string.format("schedule/%015d/prem-%s-%s-1", due, v.vin, req.id)
    rec.next_due = due
    vl.put(rec.next_key, { kind = "premium", vin = v.vin, service = req.kind, request = req.id,
                           n = 1 })
  end
  v[req.kind] = rec
  vl.put("vehicle/" .. v.vin, v)
  vl.emit(req.kind .. ".associated", { vin = v.vin, provider = req.provider, policy = req.policy,
                                       valid_until = req.valid_until, to = v.owner })
  return { id = req.id, status = "approved", next_due = rec.next_due }
end

function M.cancel(args)
  local v = vehicle(args.vin)
  local kind = kind_of(args.kind)
  local rec = v[kind]
  vl.require(rec ~= nil and rec.state ~= "cancelled", "vehicle " .. v.vin .. " has no active " ..
             kind)
  local provider = rec.insurer or rec.provider
  vl.require(vl.creator() == v.owner or vl.creator() == provider,
             "only the owner or the provider may cancel the " .. kind)
  if rec.next_key then vl.del(rec.next_key) end
  rec.next_key = nil
  rec.state = "cancelled"
  rec.cancelled_at = vl.now()
  v[kind] = rec
  vl.put("vehicle/" .. v.vin, v)
  vl.emit(kind .. ".cancelled", { vin = v.vin, by = vl.creator(), to = provider })
  return { vin = v.vin, [kind] = "cancelled" }
end

function M.confirm_end(args)
  vl.require(type(args.vin) == "string", "vin must be a string")
  vl.require(type(args.id) == "string", "id must be a string")
  local req = vl.get(req_key(args.vin, args.id))
  vl.require(req ~= nil, "no service request " .. args.id .. " for vehicle " .. args.vin)
  vl.require(vl.creator() == req.provider, "only the provider " .. req.provider ..
             " may confirm the end of " .. req.kind .. " " .. req.policy)
  vl.require(req.status == "ended_by_sale", req.kind .. " " .. req.policy .. " of " ..
             args.vin .. " is " .. req.status .. ", not ended by a sale")
  req.status = "ended"
  req.end_confirmed_at = vl.now()
  vl.put(req_key(args.vin, req.id), req)
  vl.emit(req.kind .. ".end_confirmed", { vin = args.vin, id = req.id, policy = req.policy,
                                          by = req.provider, to = req.holder })
  return { vin = args.vin, id = req.id, policy = req.policy, status = "ended" }
end

function M.set_rule(args)
  local me = vl.creator()
  vl.require(has_role(me, "registration_authority"),
             "only an identity holding the role registration_authority may set service rules")
  local kind = kind_of(args.kind)
  vl.require(math.type(args.min_coverage) == "integer" and args.min_coverage >= 0,
             "min_coverage must be an integer number of cents")
  vl.put("rule/" .. kind, { min_coverage = args.min_coverage, by = me, at = vl.now() })
  vl.emit("rule.set", { kind = kind, min_coverage = args.min_coverage, by = me })
  return { kind = kind, min_coverage = args.min_coverage }
end

function M.on_sale(args)
  vl.require(vl.caller() == "contract:settlement",
             "insurance.on_sale may only be called by the settlement contract")
  local v = vehicle(args.vin)
  for kind, _ in pairs(KINDS) do
    local rec = v[kind]
    if rec ~= nil then
      if rec.next_key then vl.del(rec.next_key) end
      local provider = rec.insurer or rec.provider
      local req = rec.request and vl.get(req_key(v.vin, rec.request))
      if req ~= nil then
        req.status = "ended_by_sale"
        req.ended_at = vl.now()
        req.holder = args.seller
        req.reason = "sale " .. tostring(args.sale)
        vl.put(req_key(v.vin, req.id), req)
      end
      vl.emit(kind .. ".removed", { vin = v.vin, id = rec.request, to = provider,
                                    holder = args.seller, policy = rec.policy,
                                    reason = "sale " .. tostring(args.sale) })
      v[kind] = nil
    end
  end
  vl.put("vehicle/" .. v.vin, v)
  return {}
end

return M
