"""Task recipes: each a top-to-bottom setup -> train -> evaluate -> predict."""
