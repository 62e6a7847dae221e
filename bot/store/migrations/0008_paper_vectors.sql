-- 0007: each paper's sentence embedding, for like: / about: and related papers (issue 17).
--
-- One vector per paper: 384 float32 numbers, little-endian, unit length, as BLOB. `model` names
-- the model and its exact weights: a vector of another model is stale and gets re-embedded.
-- `seq` grows with every write (a re-embedded paper gets a new one), so a process keeping the
-- vectors in memory reads only those written since its last look.
CREATE TABLE paper_vectors (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    paper_id  TEXT NOT NULL UNIQUE REFERENCES papers (id) ON DELETE CASCADE,
    model     TEXT NOT NULL,
    vector    BLOB NOT NULL
);
CREATE INDEX paper_vectors_model ON paper_vectors (model, seq);
