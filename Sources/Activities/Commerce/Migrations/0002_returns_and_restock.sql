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
