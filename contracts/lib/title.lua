--! policy {"*":"creator","onboard":"creator","check":"creator","request":"creator","answer":"all(creator,role:title_agency)","respond":"creator","request_registration":"creator","register":"all(creator,role:registration_authority)","get":"any"}
-- title.lua — onboarding and title (seed 000 FIG. 3), and registration.
--
-- onboard {vin, make, model, year, color?, extra?, agency?}
--   vehicle.register (the creator becomes the owner; NFT-VID and NFT-DID
--   written there), then copies the generic contracts "title.check" and
--   "keys.check_use" into the NFT-VID's contracts.generic and runs the
--   title check; with agency, a missing or stale title files a request.
-- check {vin, agency?} -> {vin, title: "valid"|"none"|"stale"|"requested"|
--   "clarification_requested", action?}. Attaches the generic contracts if
--   missing. A missing/stale title with agency files a request (owner only).
-- request {vin, agency}  owner only; agency holds role title_agency; pays
--   TITLE_FEE cents owner -> agency; opens title_request/<VIN>.
-- answer {vin, decision: "issue"|"clarify", number?, question?}
--   the agency of the open request, which must still hold title_agency:
--   issues the title (status "valid", issuer = the agency, holder = owner)
--   or asks a question (status "clarification_requested").
-- respond {vin, answer}  owner answers a clarification; the request is open
--   again. Any number of rounds.
-- request_registration {vin, authority}  owner pays REGISTRATION_FEE to an
--   identity holding role registration_authority; registration "pending".
-- register {vin, plate}  that authority, which must still hold
--   registration_authority, assigns the plate: "registered". (A sale
--   settlement also leaves registration "pending" with its fee paid.)
-- get {vin} -> {title, registration, request}
--
-- Every role is checked through identity.has_role (vl.call): an identity
-- holds a privileged role only through its organisation (docs/trust.md).
--
-- A title is stale when it was issued to someone other than the current
-- owner (e.g. after an ownership change the agency has not re-issued).
--
-- Policies (the ledger adds its guards: a write to vehicle/<VIN> needs its
-- owner's organisation, lowering a wallet needs its holder's):
--   onboard, check, request, respond, request_registration  creator — the
--     owner acts; its fee payment and the vehicle write name its
--     organisation through the guards too;
--   answer    all(creator,role:title_agency) — issuing a title is the
--     agency's act, endorsed by an organisation holding title_agency (the
--     agency's own when it is enrolled there); the owner's organisation
--     endorses the vehicle write (guard);
--   register  all(creator,role:registration_authority) — likewise for the
--     plate;
--   get       any — read-only;
--   *         creator.

local TITLE_FEE = 2500
local REGISTRATION_FEE = 3000
local GENERIC = { "title.check", "keys.check_use" }

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

local function require_role(did, role)
  vl.require(type(did) == "string" and #did > 0, role .. " must be a DID")
  vl.require(vl.get("did/" .. did) ~= nil, "identity " .. did .. " is not registered")
  vl.require(has_role(did, role), "identity " .. did .. " does not hold the role " .. role)
end

local function require_owner(v)
  vl.require(v.owner == vl.creator(), "only the owner " .. tostring(v.owner) ..
             " of vehicle " .. v.vin .. " may do this")
end

local function contains(list, x)
  for _, y in ipairs(list) do if y == x then return true end end
  return false
end

local function attach_generic(v)
  v.contracts = v.contracts or { owner = {}, generic = {} }
  v.contracts.generic = v.contracts.generic or {}
  local added = false
  for _, name in ipairs(GENERIC) do
    if not contains(v.contracts.generic, name) then
      v.contracts.generic[#v.contracts.generic + 1] = name
      added = true
    end
  end
  return added
end

local function status_of(v)
  local t = v.title or {}
  if t.status == "valid" then
    if t.holder == v.owner then return "valid" end
    return "stale"
  end
  return t.status or "none"
end

local function pay(from, to, cents, what)
  local bal = vl.get("wallet/" .. from) or 0
  vl.require(bal >= cents, what .. " of " .. cents .. " cents cannot be paid: wallet of " ..
             from .. " holds " .. bal .. " cents")
  vl.transfer(from, to, cents)
end

function M.request(args)
  local v = vehicle(args.vin)
  require_owner(v)
  require_role(args.agency, "title_agency")
  local st = status_of(v)
  vl.require(st ~= "valid", "vehicle " .. v.vin .. " already has a valid title " ..
             tostring(v.title.number))
  local key = "title_request/" .. v.vin
  local req = vl.get(key)
  vl.require(req == nil or (req.status ~= "requested" and req.status ~= "clarification"),
             "a title request for " .. v.vin .. " is already open with agency " ..
             tostring(req and req.agency))
  pay(v.owner, args.agency, TITLE_FEE, "the title fee")
  req = { vin = v.vin, agency = args.agency, owner = v.owner, fee = TITLE_FEE,
          status = "requested", rounds = vl.array({}), opened_at = vl.now(), txid = vl.txid() }
  vl.put(key, req)
  v.title = v.title or {}
  v.title.status = "requested"
  v.title.agency = args.agency
  attach_generic(v)
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("title.requested", { vin = v.vin, agency = args.agency, owner = v.owner,
                               fee = TITLE_FEE, was = st })
  return { vin = v.vin, title = "requested", agency = args.agency, fee = TITLE_FEE }
end

function M.check(args)
  local v = vehicle(args.vin)
  if attach_generic(v) then vl.put("vehicle/" .. v.vin, v) end
  local st = status_of(v)
  vl.emit("title.checked", { vin = v.vin, title = st })
  if st == "none" or st == "stale" then
    if args.agency ~= nil and args.agency ~= vl.null then return M.request(args) end
    return { vin = v.vin, title = st,
             action = "request a title: `vledger title request --vin " .. v.vin ..
                      " --agency DID` (fee " .. TITLE_FEE .. " cents)" }
  end
  return { vin = v.vin, title = st }
end

function M.onboard(args)
  local agency = args.agency
  args.agency = nil
  vl.call("vehicle", "register", args)
  local v = vehicle(args.vin)
  attach_generic(v)
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("title.check_attached", { vin = v.vin, contracts = v.contracts.generic })
  return M.check({ vin = v.vin, agency = agency })
end

local function open_request(vin)
  local req = vl.get("title_request/" .. vin)
  vl.require(req ~= nil and (req.status == "requested" or req.status == "clarification"),
             "no title request is open for vehicle " .. vin)
  return req
end

function M.answer(args)
  local v = vehicle(args.vin)
  local req = open_request(v.vin)
  vl.require(vl.creator() == req.agency, "only the agency " .. req.agency ..
             " handling the title request may answer it")
  vl.require(has_role(req.agency, "title_agency"), "the agency " .. req.agency ..
             " no longer holds the role title_agency, so it cannot answer the request")
  local round = { decision = args.decision, at = vl.now(), txid = vl.txid() }
  if args.decision == "issue" then
    vl.require(req.status == "requested",
               "the agency asked a question; the owner must respond before a title is issued")
    vl.require(type(args.number) == "string" and #args.number > 0 and #args.number <= 64,
               "number must be a title number of 1..64 characters")
    v.title = { status = "valid", number = args.number, issuer = req.agency,
                holder = v.owner, issued_at = vl.now() }
    req.status = "issued"
    round.number = args.number
    vl.emit("title.issued", { vin = v.vin, number = args.number, issuer = req.agency,
                              holder = v.owner, to = v.owner })
  elseif args.decision == "clarify" then
    vl.require(type(args.question) == "string" and #args.question > 0 and #args.question <= 512,
               "question must be a non-empty string of at most 512 characters")
    req.status = "clarification"
    round.question = args.question
    v.title.status = "clarification_requested"
    v.title.question = args.question
    vl.emit("title.clarification_requested", { vin = v.vin, agency = req.agency,
                                               to = v.owner, question = args.question })
  else
    error("decision must be 'issue' or 'clarify'")
  end
  req.rounds[#req.rounds + 1] = round
  vl.put("title_request/" .. v.vin, req)
  vl.put("vehicle/" .. v.vin, v)
  return { vin = v.vin, title = v.title.status, rounds = #req.rounds }
end

function M.respond(args)
  local v = vehicle(args.vin)
  require_owner(v)
  local req = open_request(v.vin)
  vl.require(req.status == "clarification", "no clarification is pending for vehicle " .. v.vin)
  vl.require(type(args.answer) == "string" and #args.answer > 0 and #args.answer <= 2048,
             "answer must be a non-empty string of at most 2048 characters")
  req.rounds[#req.rounds + 1] = { answer = args.answer, at = vl.now(), txid = vl.txid() }
  req.status = "requested"
  vl.put("title_request/" .. v.vin, req)
  v.title.status = "requested"
  v.title.question = nil
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("title.clarified", { vin = v.vin, to = req.agency, answer = args.answer })
  return { vin = v.vin, title = "requested", rounds = #req.rounds }
end

function M.request_registration(args)
  local v = vehicle(args.vin)
  require_owner(v)
  require_role(args.authority, "registration_authority")
  local r = v.registration or {}
  vl.require(r.status ~= "pending", "a registration of " .. v.vin .. " is already pending with " ..
             tostring(r.authority))
  vl.require(not (r.status == "registered" and r.holder == v.owner),
             "vehicle " .. v.vin .. " is already registered (plate " .. tostring(r.plate) .. ")")
  pay(v.owner, args.authority, REGISTRATION_FEE, "the registration fee")
  v.registration = { status = "pending", authority = args.authority, fee = REGISTRATION_FEE,
                     previous_plate = r.plate, requested_at = vl.now() }
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("registration.requested", { vin = v.vin, authority = args.authority,
                                      to = args.authority, fee = REGISTRATION_FEE })
  return { vin = v.vin, registration = "pending" }
end

function M.register(args)
  local v = vehicle(args.vin)
  local r = v.registration or {}
  vl.require(r.status == "pending", "no registration of " .. v.vin .. " is pending")
  vl.require(vl.creator() == r.authority, "only the authority " .. tostring(r.authority) ..
             " may register vehicle " .. v.vin)
  vl.require(has_role(r.authority, "registration_authority"), "the authority " .. r.authority ..
             " does not hold the role registration_authority, so it cannot register vehicles")
  vl.require(type(args.plate) == "string" and #args.plate > 0 and #args.plate <= 16,
             "plate must be 1..16 characters")
  v.registration = { status = "registered", plate = args.plate, authority = r.authority,
                     holder = v.owner, registered_at = vl.now() }
  vl.put("vehicle/" .. v.vin, v)
  vl.emit("registration.issued", { vin = v.vin, plate = args.plate, authority = r.authority,
                                   to = v.owner })
  return { vin = v.vin, registration = "registered", plate = args.plate }
end

function M.get(args)
  local v = vehicle(args.vin)
  return { vin = v.vin, title = v.title, status = status_of(v), registration = v.registration,
           request = vl.get("title_request/" .. v.vin) or vl.null }
end

return M
