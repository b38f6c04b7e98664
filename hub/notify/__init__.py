"""Notifications: collectors (by e-mail) and systems (by signed webhook) are told when an invoice is
blocked, rejected or disputed, or when a portal profile stops working, batched into one digest per
recipient so nobody gets 200 mails, with the reasons in the message.

- `config`: the `notifications:` section of the hub configuration (who follows which customers);
- `health`: which profiles are not working (refused logins, portal down), from the store;
- `outbox`: what happened, queued once per recipient in the `notifications` table;
- `digest`: one message per recipient, composed from what is still worth saying;
- `channels`: SMTP and signed webhooks;
- `job`: `notify(hub)`, the daemon's job.

This package's `__init__` imports nothing: the hub configuration imports `hub.notify.config`.
"""
