"""Side-by-side benchmarks of ddsp_ref against its peers (TF DDSP 3.7.0, a PyTorch port)."""
