--! policy {"*":"creator","issue":"creator","redeem":"all(creator,arg:from)","transfer":"creator","balance":"any","supply":"any"}
-- wallet.lua — balances in integer cents at wallet/<DID> (a JSON integer),
-- and the money supply at money/supply {issued, redeemed} (docs/trust.md
-- "Money"). Money is created and destroyed only here, by identities of an
-- issuer organisation; everything else moves it through vl.transfer. So at
-- every height: sum of wallet/* = money/supply.issued - money/supply.redeemed.
--
-- issue {to, cents}      the creator must hold the role issuer
--                        (identity.has_role); credits the registered DID
--                        `to` (0 < cents <= MAX_AMOUNT, also the bound
--                        of a redeem) and adds cents to
--                        money/supply.issued; emits "wallet.issued"
--                        {to, cents, by, balance, issued}.
-- redeem {from, cents}   the creator must hold issuer; debits the registered
--                        DID `from` (which must hold cents) and adds cents to
--                        money/supply.redeemed; emits "wallet.redeemed"
--                        {from, cents, by, balance, redeemed}.
-- transfer {to, cents}   moves cents from the creator to a registered DID
--                        through vl.transfer; emits "wallet.transferred".
-- balance {did?}         -> {did, balance}
-- supply {}              -> {issued, redeemed}
-- deposit                refused: money is issued, never self-credited.
--
-- issue and redeem run only as the transaction's own function (vl.caller()
-- is the creator): a contract the issuer happens to call (a condition
-- contract in its sale, say) cannot create or destroy money in its name.
--
-- Policies (the ledger adds its guard: a write that lowers wallet/<DID>
-- needs that identity's organisation):
--   issue     creator                — the issuer's organisation; crediting
--                                       a wallet needs nobody else's consent;
--   redeem    all(creator,arg:from)  — the issuer's and the holder's
--                                       organisations (the guard names the
--                                       holder's too);
--   transfer  creator                — the payer's organisation (= guard);
--   balance, supply  any             — read-only;
--   *         creator.

local MAX_AMOUNT = 100000000000

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

-- Issue and redeem: a bound on one transaction's effect on the supply.
local function check_amount(cents)
  check_cents(cents)
  vl.require(cents <= MAX_AMOUNT, "amount exceeds the limit of " .. MAX_AMOUNT ..
             " cents per transaction")
end

local function require_issuer(me, what)
  vl.require(vl.caller() == me, "wallet." .. what .. " must be invoked by the issuer itself, " ..
             "not from " .. vl.caller())
  vl.require(vl.call("identity", "has_role", { did = me, role = "issuer" }) == true,
             "only an identity of an issuer organisation may " .. what .. " money: " .. me ..
             " does not hold the role issuer")
end

local function supply()
  local s = vl.get("money/supply")
  if s == nil then return { issued = 0, redeemed = 0 } end
  vl.require(type(s) == "table" and math.type(s.issued) == "integer" and
             math.type(s.redeemed) == "integer", "money/supply is corrupt")
  return s
end

local function wallet_of(did)
  local b = vl.get("wallet/" .. did)
  vl.require(b ~= nil, "identity " .. did .. " has no wallet")
  vl.require(math.type(b) == "integer", "wallet of " .. did .. " is corrupt")
  return b
end

function M.deposit(args)
  error("wallet.deposit is gone: money is issued by an issuer organisation " ..
        "(`vledger wallet issue --to DID CENTS` on its node)")
end

function M.issue(args)
  local me = vl.creator()
  require_issuer(me, "issue")
  local to = args.to
  vl.require(type(to) == "string" and #to > 0, "to must be a DID")
  vl.require(registered(to), "recipient " .. to .. " is not registered")
  local cents = args.cents
  check_amount(cents)
  local balance = wallet_of(to)
  vl.require(balance <= math.maxinteger - cents, "balance of " .. to .. " would overflow")
  local s = supply()
  vl.require(s.issued <= math.maxinteger - cents, "money/supply.issued would overflow")
  balance = balance + cents
  s.issued = s.issued + cents
  vl.put("wallet/" .. to, balance)
  vl.put("money/supply", { issued = s.issued, redeemed = s.redeemed })
  vl.emit("wallet.issued", { to = to, cents = cents, by = me, balance = balance,
                             issued = s.issued })
  return { to = to, cents = cents, balance = balance }
end

function M.redeem(args)
  local me = vl.creator()
  require_issuer(me, "redeem")
  local from = args.from
  vl.require(type(from) == "string" and #from > 0, "from must be a DID")
  vl.require(registered(from), "identity " .. from .. " is not registered")
  local cents = args.cents
  check_amount(cents)
  local balance = wallet_of(from)
  vl.require(balance >= cents, "cannot redeem " .. cents .. " cents: the wallet of " .. from ..
             " holds " .. balance .. " cents")
  local s = supply()
  vl.require(s.redeemed <= math.maxinteger - cents, "money/supply.redeemed would overflow")
  balance = balance - cents
  s.redeemed = s.redeemed + cents
  vl.put("wallet/" .. from, balance)
  vl.put("money/supply", { issued = s.issued, redeemed = s.redeemed })
  vl.emit("wallet.redeemed", { from = from, cents = cents, by = me, balance = balance,
                               redeemed = s.redeemed })
  return { from = from, cents = cents, balance = balance }
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

function M.supply(args)
  local s = supply()
  return { issued = s.issued, redeemed = s.redeemed }
end

return M
