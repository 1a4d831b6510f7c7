--! policy {"*":"creator","register":"arg:org","enrol":"creator","get":"any","has_role":"any"}
-- identity.lua — NFT-DID registration, enrolment in privileged roles, and
-- the one place roles are decided (DESIGN §2; docs/trust.md "Identities and
-- roles"). Keys: did/<DID>, wallet/<DID>; reads org/<name> (written only by
-- genesis: {name, roles, nodes}).
--
-- register {name, org, roles?:[...], id_number?}
--   Registers the proposal creator's DID (vl.creator()) as an identity of
--   organisation `org` (org/<org> must exist). Self-declared roles are only
--   SELF_ROLES (buyer, seller, owner, service); a privileged role
--   (PRIVILEGED) is refused with a message naming the organisations that
--   hold it and how to be enrolled by one. Writes did/<DID> {did, name, org,
--   roles, id_number?, owned, interest, contracts, registered_at} and an
--   empty wallet/<DID>; emits "identity.registered" {did, name, org, roles}.
--   Refuses a DID already registered, an empty or over-long name, a missing
--   or unknown organisation, an unknown role.
-- enrol {did, role}
--   A node identity (did/<creator>.node = true) of organisation O enrols
--   identity `did`, which must belong to O, in a privileged role that O
--   holds (org/<O>.roles). Adds the role to roles and records
--   enrolled[role] = {org, by, at}; emits "identity.enrolled" {did, role,
--   org, by, to = did}. Refusals: the creator is not a node identity; an unknown or a
--   self-declared role; O does not hold the role; the identity is not
--   registered, belongs to another organisation, is a node identity, or is
--   already enrolled in the role; a call from another contract (vl.caller()
--   must be the creator, so no contract a node calls enrols in its name).
-- has_role {did, role} -> boolean
--   True when the identity holds the role: for a privileged role, it is a
--   node identity of an organisation that holds the role, or it was enrolled
--   in it by its own organisation and that organisation still holds it; for
--   a self-declared role, it declared it at registration. False for an
--   unregistered DID. Refuses an unknown role (a typo in a contract must not
--   read as "does not hold it"). Every standard contract checks roles only
--   through this function (vl.call), never by reading `roles` itself.
-- get {did?} -> the identity document (default: the creator's), or null.
--
-- Policies (the ledger adds its guards: a write to did/<DID> needs the
-- identity's organisation, docs/trust.md):
--   register  arg:org  — the organisation the identity joins endorses, so
--                        it consents to serve it (its node runs the tx);
--   enrol     creator  — the enrolling node's organisation; the identity
--                        belongs to it, so the did/ guard names the same one;
--   get, has_role  any — read-only;
--   *         creator.

local SELF_ROLES = { buyer = true, seller = true, owner = true, service = true }
local PRIVILEGED = {
  title_agency = true, registration_authority = true, lender = true, insurer = true,
  dealer = true, issuer = true, validator = true,
}

local M = {}

local function contains(list, x)
  for _, y in ipairs(list or {}) do if y == x then return true end end
  return false
end

local function valid_org_name(n)
  return type(n) == "string" and #n >= 1 and #n <= 63 and n:match("^[a-z0-9_%-]+$") ~= nil
end

local function org_doc(name)
  if not valid_org_name(name) then return nil end
  return vl.get("org/" .. name)
end

-- Names of the organisations (sorted) holding role, from org/ documents.
local function holders(role)
  local out = {}
  for _, row in ipairs(vl.range("org/")) do
    local o = row.value
    if type(o) == "table" and contains(o.roles, role) then
      out[#out + 1] = o.name or row.key:sub(5)
    end
  end
  return out
end

local function org_names()
  local out = {}
  for _, row in ipairs(vl.range("org/")) do out[#out + 1] = row.key:sub(5) end
  return out
end

local function privileged_refusal(role, did)
  local h = holders(role)
  if #h == 0 then
    return "role '" .. role .. "' is held only through an organisation that holds it, " ..
           "and no organisation of this network does"
  end
  return "role '" .. role .. "' is held only through an organisation that holds it (" ..
         table.concat(h, ", ") .. "): ask it to enrol you with `vledger identity enrol " ..
         did .. " --role " .. role .. "` on its node"
end

-- The decision (see has_role above); p is did/<DID> or nil.
local function holds(p, role)
  if type(p) ~= "table" then return false end
  if SELF_ROLES[role] then
    return contains(p.roles, role)
  end
  if p.node == true then
    local o = org_doc(p.org)
    return o ~= nil and contains(o.roles, role)
  end
  local e = type(p.enrolled) == "table" and p.enrolled[role] or nil
  if type(e) ~= "table" or e.org ~= p.org then return false end
  local o = org_doc(e.org)
  return o ~= nil and contains(o.roles, role)
end

local function check_role_name(role)
  vl.require(type(role) == "string", "role must be a string")
  vl.require(SELF_ROLES[role] or PRIVILEGED[role], "unknown role '" .. role .. "'")
end

function M.register(args)
  local did = vl.creator()
  local key = "did/" .. did
  vl.require(vl.get(key) == nil, "identity " .. did .. " is already registered")

  local name = args.name
  vl.require(type(name) == "string" and #name > 0,
             "name must be a non-empty string")
  vl.require(#name <= 128, "name must be at most 128 characters")

  local org = args.org
  vl.require(org ~= nil and org ~= vl.null,
             "org must name the organisation the identity belongs to (its node's organisation)")
  vl.require(valid_org_name(org), "org must be an organisation name of 1..63 characters " ..
             "from a-z, 0-9, _ and -")
  if vl.get("org/" .. org) == nil then
    error("organisation '" .. org .. "' does not exist: the network's organisations are " ..
          table.concat(org_names(), ", "))
  end

  local roles = args.roles
  if roles == nil or roles == vl.null then roles = {} end
  vl.require(type(roles) == "table", "roles must be an array of roles")
  local n = 0
  for _ in pairs(roles) do n = n + 1 end
  vl.require(n == #roles, "roles must be an array of roles")
  local seen, list = {}, {}
  for _, r in ipairs(roles) do
    vl.require(type(r) == "string" and (SELF_ROLES[r] or PRIVILEGED[r]),
               "unknown role '" .. tostring(r) .. "'")
    if PRIVILEGED[r] then error(privileged_refusal(r, did)) end
    if not seen[r] then
      seen[r] = true
      list[#list + 1] = r
    end
  end
  list = vl.array(list)

  local id_number = args.id_number
  if id_number ~= nil and id_number ~= vl.null then
    vl.require(type(id_number) == "string" and #id_number <= 128,
               "id_number must be a string of at most 128 characters")
  else
    id_number = nil
  end

  local doc = {
    did = did,
    name = name,
    org = org,
    roles = list,
    id_number = id_number,
    owned = {},
    interest = {},
    contracts = { generic = {} },
    registered_at = vl.now(),
  }
  vl.put(key, doc)
  vl.put("wallet/" .. did, 0)
  vl.emit("identity.registered", { did = did, name = name, org = org, roles = list })
  return { did = did, org = org }
end

function M.enrol(args)
  local me = vl.creator()
  vl.require(vl.caller() == me, "identity.enrol must be invoked by the enrolling node itself, " ..
             "not from " .. vl.caller())
  local mine = vl.get("did/" .. me)
  vl.require(mine ~= nil and mine.node == true, "only a node identity of an organisation " ..
             "may enrol identities: " .. me .. " is not one (run `vledger identity enrol` " ..
             "on the organisation's node)")
  local org = mine.org
  local role = args.role
  check_role_name(role)
  vl.require(PRIVILEGED[role], "role '" .. role .. "' is self-declared at registration; " ..
             "only privileged roles are enrolled")
  local o = org_doc(org)
  vl.require(o ~= nil, "the organisation '" .. tostring(org) .. "' of node " .. me ..
             " does not exist")
  if not contains(o.roles, role) then
    local h = holders(role)
    error("organisation '" .. org .. "' does not hold the role '" .. role ..
          "', so it cannot enrol anyone in it" ..
          (#h > 0 and (" (held by: " .. table.concat(h, ", ") .. ")") or ""))
  end

  local did = args.did
  vl.require(type(did) == "string" and #did > 0, "did must be the DID of the identity to enrol")
  local key = "did/" .. did
  local p = vl.get(key)
  vl.require(p ~= nil, "identity " .. did .. " is not registered")
  vl.require(p.org == org, "identity " .. did .. " belongs to organisation '" ..
             tostring(p.org) .. "', not '" .. org .. "': only its own organisation may enrol it")
  vl.require(p.node ~= true, "identity " .. did .. " is a node identity of '" .. org ..
             "' and holds its roles already")
  p.enrolled = p.enrolled or vl.object({})
  vl.require(p.enrolled[role] == nil, "identity " .. did .. " is already enrolled in '" ..
             role .. "' by '" .. tostring(p.enrolled[role] and p.enrolled[role].org) .. "'")
  p.enrolled[role] = { org = org, by = me, at = vl.now() }
  p.roles = p.roles or {}
  if not contains(p.roles, role) then p.roles[#p.roles + 1] = role end
  vl.put(key, p)
  vl.emit("identity.enrolled", { did = did, role = role, org = org, by = me, to = did })
  return { did = did, role = role, org = org }
end

function M.has_role(args)
  local did = args.did
  vl.require(type(did) == "string" and #did > 0, "did must be a DID")
  check_role_name(args.role)
  return holds(vl.get("did/" .. did), args.role)
end

function M.get(args)
  local did = args.did or vl.creator()
  vl.require(type(did) == "string", "did must be a string")
  return vl.get("did/" .. did) or vl.null
end

return M
