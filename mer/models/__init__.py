"""Models are leaves: configs build them with ``_target_``; nothing else imports them by name.

Every builder takes ``num_classes`` (from the dataset's class list) and returns a module mapping
``B x 3 x T x H x W`` clips to ``B x num_classes`` logits.
"""
