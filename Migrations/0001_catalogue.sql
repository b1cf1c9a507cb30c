-- The catalogue: artisans, products with their labelled attributes, reference texts and photos.
-- Photos live in the object store; image rows hold their content address (SHA-256).

CREATE TABLE artisans (
    id BIGSERIAL PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE CHECK (handle <> ''),
    display_name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id BIGSERIAL PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE CHECK (external_id <> ''),
    artisan_id BIGINT NOT NULL REFERENCES artisans (id),
    title TEXT NOT NULL CHECK (title <> ''),
    -- Stable by product: derived from the SHA-256 of external_id, so adding products never moves one.
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    taxonomy_version INTEGER NOT NULL,
    design TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX products_split ON products (split);
CREATE INDEX products_artisan ON products (artisan_id);

-- One row per (field, value): category, metal, style and finish have one value, gemstones several.
CREATE TABLE product_attributes (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    field TEXT NOT NULL CHECK (field IN ('category', 'metal', 'gemstone', 'style', 'finish')),
    value TEXT NOT NULL CHECK (value <> ''),
    PRIMARY KEY (product_id, field, value)
);
CREATE INDEX product_attributes_value ON product_attributes (field, value);

CREATE TABLE product_descriptions (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    text TEXT NOT NULL CHECK (text <> ''),
    source TEXT NOT NULL DEFAULT 'catalogue' CHECK (source IN ('catalogue', 'moderator', 'artisan')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (product_id, position)
);

CREATE TABLE product_images (
    id BIGSERIAL PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    object_key TEXT NOT NULL CHECK (object_key <> ''),
    sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    source TEXT NOT NULL CHECK (source IN ('catalogue', 'upload', 'synthetic')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (product_id, sha256),
    UNIQUE (product_id, position)
);
CREATE INDEX product_images_sha256 ON product_images (sha256);
