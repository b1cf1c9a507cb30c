-- Customer reviews (issue 8): each scored for sentiment when it arrives, with the aspects it mentions.

CREATE TABLE reviews (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    -- The customer's star rating, when the marketplace has one.
    rating SMALLINT CHECK (rating BETWEEN 1 AND 5),
    text TEXT NOT NULL CHECK (btrim(text) <> ''),
    -- When the customer wrote it (an import keeps the original time).
    reviewed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sentiment TEXT NOT NULL CHECK (sentiment IN ('positive', 'negative')),
    confidence DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    model_version TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('api', 'import')),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reviews_product_time ON reviews (product_id, reviewed_at);

-- One row per aspect a review mentions, with the sentiment of the clause that mentions it.
CREATE TABLE review_aspects (
    review_id BIGINT NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    aspect TEXT NOT NULL CHECK (aspect IN ('quality', 'appearance', 'size_fit', 'price_value', 'shipping', 'durability', 'service')),
    sentiment TEXT NOT NULL CHECK (sentiment IN ('positive', 'negative')),
    confidence DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    excerpt TEXT NOT NULL,
    PRIMARY KEY (review_id, aspect)
);
CREATE INDEX review_aspects_aspect ON review_aspects (aspect);
