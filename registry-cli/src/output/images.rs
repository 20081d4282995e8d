//! What the image commands print (`export`, `extract`, `mutate`, `validate`): text and JSON shapes.
