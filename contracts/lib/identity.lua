--! policy {"*":"any"}
-- identity.lua — NFT-DID registration (DESIGN §2: did/<DID>, wallet/<DID>).
--
-- register {name, roles:[...], id_number?}
--   Registers the proposal creator's DID (vl.creator()). Refuses a DID that
--   is already registered, an empty or over-long name, and roles outside
--   ROLES. Writes did/<DID> and an empty wallet/<DID>; emits
--   "identity.registered" {did, name, roles}.
-- get {did?} -> the identity document (default: the creator's), or null.

local ROLES = {
  seller = true, buyer = true, dealer = true, owner = true, title_agency = true,
  registration_authority = true, lender = true, insurer = true, service = true,
}

local M = {}

function M.register(args)
  local did = vl.creator()
  local key = "did/" .. did
  vl.require(vl.get(key) == nil, "identity " .. did .. " is already registered")

  local name = args.name
  vl.require(type(name) == "string" and #name > 0,
             "name must be a non-empty string")
  vl.require(#name <= 128, "name must be at most 128 characters")

  local roles = args.roles
  vl.require(type(roles) == "table" and #roles > 0,
             "roles must be a non-empty array of roles")
  local n = 0
  for _ in pairs(roles) do n = n + 1 end
  vl.require(n == #roles, "roles must be a non-empty array of roles")
  local seen, list = {}, {}
  for _, r in ipairs(roles) do
    vl.require(type(r) == "string" and ROLES[r], "unknown role '" .. tostring(r) .. "'")
    if not seen[r] then
      seen[r] = true
      list[#list + 1] = r
    end
  end

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
    roles = list,
    id_number = id_number,
    owned = {},
    interest = {},
    contracts = { generic = {} },
    registered_at = vl.now(),
  }
  vl.put(key, doc)
  vl.put("wallet/" .. did, 0)
  vl.emit("identity.registered", { did = did, name = name, roles = list })
  return { did = did }
end

function M.get(args)
  local did = args.did or vl.creator()
  vl.require(type(did) == "string", "did must be a string")
  return vl.get("did/" .. did) or vl.null
end

return M
