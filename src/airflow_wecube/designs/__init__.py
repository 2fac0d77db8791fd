"""The designs reality is compared with (pure): the network design of the data center; docs/reconcile.md."""
