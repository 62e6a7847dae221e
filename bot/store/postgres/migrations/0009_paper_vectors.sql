-- 0008: each paper's sentence embedding (issue 17; SQLite's 0007).
--
-- One vector per paper: 384 float32 numbers, little-endian, unit length, as bytea. `model`
-- names the model and its exact weights: a vector of another model is stale and re-embedded.
-- `seq` grows with every write (a re-embedded paper gets a new one), so a process keeping the
-- vectors in memory reads only those written since its last look, whoever wrote them.
CREATE TABLE paper_vectors (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    paper_id  text NOT NULL UNIQUE REFERENCES papers (id) ON DELETE CASCADE,
    model     text NOT NULL,
    vector    bytea NOT NULL
);
CREATE INDEX paper_vectors_model ON paper_vectors (model, seq);
