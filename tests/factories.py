"""factory_boy factories. Balances are built through the services, so a
factory-made user's ledger sums to its balance like any real user's."""

from typing import Any

import factory
from django.conf import settings

from conversations.models import Conversation, Exchange
from users.ledger import tokens_adjust
from users.models import TokenTransaction, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation  # type: ignore[untyped-decorator]
    def balance(self: User, create: bool, extracted: int | None, **kwargs: Any) -> None:
        """`UserFactory(balance=N)`; by default the signup grant."""
        amount = settings.SIGNUP_TOKENS if extracted is None else extracted
        if create and amount:
            tokens_adjust(user=self, amount=amount, kind=TokenTransaction.Kind.SIGNUP_GRANT)


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Conversation {n}")


class ExchangeFactory(factory.django.DjangoModelFactory[Exchange]):
    """A stored exchange, without its charge: for tests of reads only."""

    class Meta:
        model = Exchange

    conversation = factory.SubFactory(ConversationFactory)
    user = factory.SelfAttribute("conversation.user")
    message = factory.Sequence(lambda n: f"message {n}")
    response = factory.LazyAttribute(lambda o: f"AI response to: {o.message}")
    status = Exchange.Status.COMPLETE
    model = "echo"
    tokens_charged = 100
