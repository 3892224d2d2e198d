"""Exceptions of the evaluation app's services (each a ValueError: bad input, nothing was written)."""

from django.utils.translation import gettext


class EvaluationError(ValueError):
    """A set or experiment request that cannot be carried out; the message says why."""


class NotReviewed(EvaluationError):
    """Some e-mails are not reviewed, so they have no expected answer to be a case; `emails` lists them."""

    def __init__(self, emails):
        self.emails = list(emails)
        shown = ", ".join(
            f"#{email.pk} ({email.subject[:40] or gettext('no subject')})" for email in self.emails[:10]
        )
        if len(self.emails) > 10:
            message = gettext(
                "Only reviewed e-mails can be cases of an evaluation set; not reviewed: %(emails)s and %(more)s more. "
                "Review them first (or leave them out)."
            ) % {"emails": shown, "more": len(self.emails) - 10}
        else:
            message = gettext(
                "Only reviewed e-mails can be cases of an evaluation set; not reviewed: %(emails)s. "
                "Review them first (or leave them out)."
            ) % {"emails": shown}
        super().__init__(message)
