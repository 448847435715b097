"""The account's tap menu (rich menu): the ward's menu file, images drawn from it, sync to LINE,
and the switch to the disaster menu while an evacuation order or shelter opening is live."""
