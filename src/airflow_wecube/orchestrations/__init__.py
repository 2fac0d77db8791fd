"""What the example orchestrations share: failure handling, the network design, the application rollout's steps."""
