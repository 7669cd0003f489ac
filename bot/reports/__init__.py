"""What the Quality team takes away: a concern as a QCA document, the register, a risk picture.

Every field's wording comes from `dialogues.alert.alert_fields`, so these files never disagree
with the alert card or the email. Nothing here reads the reporter's channel id (`owner`).
"""
