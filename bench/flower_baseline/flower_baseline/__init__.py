"""A plain Flower App with the MNIST example's model and data (benchmark baseline)."""
