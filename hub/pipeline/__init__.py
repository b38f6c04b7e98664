"""The steps an invoice goes through: intake (AR -> store -> pre-flight), submit, reconcile."""
