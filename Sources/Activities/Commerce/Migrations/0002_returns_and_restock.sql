-- Returns (RMA), moved by the return workflow: open → approved → received → refunded → completed,
-- or rejected | expired | refund_failed. `restocked_at` is set once its items are back in stock.
CREATE TABLE commerce.returns (
    id           text        PRIMARY KEY,
    order_id     text        NOT NULL REFERENCES commerce.orders (id),
    items        jsonb       NOT NULL,
    reason       text        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount >= 0),
    status       text        NOT NULL CHECK (status IN ('open', 'approved', 'rejected', 'expired', 'received', 'refunded', 'refund_failed', 'completed')),
    note         text,
    restocked_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX returns_order ON commerce.returns (order_id);

-- The restock that is notifying a subscriber: two restocks of one SKU never tell anyone twice.
ALTER TABLE commerce.waitlist ADD COLUMN claimed_by text;

-- Settlement compares what Stripe moved on a day with what we recorded: captures and refunds need
-- their time.
ALTER TABLE commerce.orders ADD COLUMN captured_at timestamptz;
ALTER TABLE commerce.refunds ADD COLUMN succeeded_at timestamptz;

-- One run per day (a second run of a day updates it); a discrepancy is recorded once per day,
-- kind and reference, however often the day is run.
CREATE TABLE commerce.settlement_runs (
    date          date        PRIMARY KEY,
    transactions  integer     NOT NULL,
    discrepancies integer     NOT NULL,
    ran_at        timestamptz NOT NULL DEFAULT now(),
    runs          integer     NOT NULL DEFAULT 1
);
CREATE TABLE commerce.settlement_discrepancies (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    date        date        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('missing_in_stripe', 'missing_in_orchestrator', 'amount_mismatch')),
    reference   text        NOT NULL,
    expected    bigint,
    actual      bigint,
    detail      text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (date, kind, reference)
);
