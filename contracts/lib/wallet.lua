--! policy {"*":"any"}
-- wallet.lua — balances in integer cents at wallet/<DID> (a JSON integer).
--
-- deposit {cents}        adds to the creator's wallet (0 < cents <= 1e11);
--                        emits "wallet.deposited" {did, cents, balance}
-- transfer {to, cents}   moves cents from the creator to a registered DID
--                        through vl.transfer; emits "wallet.transferred"
-- balance {did?}         -> {did, balance}

local MAX_DEPOSIT = 100000000000

local M = {}

local function registered(did)
  return vl.get("did/" .. did) ~= nil
end

local function require_registered(did)
  vl.require(registered(did),
             "identity " .. did .. " is not registered: run `vledger identity new` first")
end

local function check_cents(cents)
  vl.require(math.type(cents) == "integer" and cents > 0,
             "amount must be a positive integer number of cents")
end

function M.deposit(args)
  local did = vl.creator()
  require_registered(did)
  local cents = args.cents
  check_cents(cents)
  vl.require(cents <= MAX_DEPOSIT,
             "amount exceeds the deposit limit of " .. MAX_DEPOSIT .. " cents")
  local key = "wallet/" .. did
  local balance = vl.get(key) or 0
  vl.require(math.type(balance) == "integer", "wallet of " .. did .. " is corrupt")
  vl.require(balance <= math.maxinteger - cents, "balance of " .. did .. " would overflow")
  balance = balance + cents
  vl.put(key, balance)
  vl.emit("wallet.deposited", { did = did, cents = cents, balance = balance })
  return { did = did, balance = balance }
end

function M.transfer(args)
  local from = vl.creator()
  require_registered(from)
  local to = args.to
  vl.require(type(to) == "string" and #to > 0, "to must be a DID")
  vl.require(registered(to), "recipient " .. to .. " is not registered")
  check_cents(args.cents)
  vl.transfer(from, to, args.cents)
  vl.emit("wallet.transferred", { from = from, to = to, cents = args.cents })
  return { from = from, to = to, cents = args.cents, balance = vl.get("wallet/" .. from) }
end

function M.balance(args)
  local did = args.did or vl.creator()
  vl.require(type(did) == "string", "did must be a string")
  local b = vl.get("wallet/" .. did)
  vl.require(b ~= nil, "identity " .. did .. " has no wallet")
  return { did = did, balance = b }
end

return M
