"""The knowledge base: search for the pipeline and the case page, and writing articles."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from approvals.audit import audit_record
from hitl_crm.ai.nlp.bm25 import BM25
from hitl_crm.ai.nlp.text import content_terms
from hitl_crm.ai.skills.drafts import TITLE_BONUS, expand, query_terms
from hitl_crm.permissions import require_permission
from service.conf import app_settings
from service.models import KnowledgeArticle

#: Articles scoring below this share of the best one are not suggested (nor handed to the drafting skill).
RELEVANCE_FLOOR = 0.4
ARTICLE_FIELDS = frozenset({"title", "body", "tags", "published", "last_reviewed_at"})


def knowledge_search(text: str, *, k: int | None = None) -> list[KnowledgeArticle]:
    """The published articles that best answer ``text`` (BM25 over title, tags and body), searched by
    the words the drafts search by: no order numbers, amounts or dates, framing words left out, and
    the knowledge base's own words for the customer's ("arrived" → delivery, tracking)."""
    k = k or app_settings.KNOWLEDGE_TOP_K
    articles = list(KnowledgeArticle.objects.filter(published=True).only("id", "title", "tags", "body"))
    query = expand(query_terms(text))
    if not articles or not query:
        return []
    index = BM25([content_terms(f"{a.title}\n{a.title}\n{a.tags}\n{a.body}") for a in articles])
    scores = list(index.scores(query))
    wanted = set(query)
    for i, article in enumerate(articles):
        # What an article is about, by its title, counts beyond its words, as in the draft's own search.
        if scores[i] > 0:
            titled = wanted & set(content_terms(article.title))
            scores[i] += TITLE_BONUS * sum(1.0 + index.idf.get(t, 0.0) for t in titled)
    ranked = sorted(range(len(articles)), key=lambda i: (-scores[i], articles[i].pk))
    floor = scores[ranked[0]] * RELEVANCE_FLOOR
    return [articles[i] for i in ranked[:k] if scores[i] > 0 and scores[i] >= floor]


def _unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:180] or "article"
    slug, n = base, 2
    others = KnowledgeArticle.objects.all() if exclude_pk is None else KnowledgeArticle.objects.exclude(pk=exclude_pk)
    while others.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _clean_tags(tags: str) -> str:
    return ", ".join(dict.fromkeys(t.strip().lower() for t in (tags or "").split(",") if t.strip()))[:300]


def _article_save_new(
    *,
    author: User | None,
    title: str,
    body: str,
    tags: str,
    published: bool,
    last_reviewed_at: date | None,
) -> KnowledgeArticle:
    article = KnowledgeArticle(
        title=title.strip(),
        body=body.strip(),
        tags=_clean_tags(tags),
        published=published,
        last_reviewed_at=last_reviewed_at or (timezone.localdate() if published else None),
        author=author,
    )
    article.slug = _unique_slug(article.title)
    article.full_clean()
    article.save()
    audit_record(
        verb="service.article_created",
        actor=author,
        target=article,
        data={"before": None, "after": {"title": article.title, "published": article.published}},
    )
    return article


@transaction.atomic
def knowledge_article_create(
    *,
    actor: User,
    title: str,
    body: str,
    tags: str = "",
    published: bool = False,
    last_reviewed_at: date | None = None,
) -> KnowledgeArticle:
    """A person writes an article (``service.add_knowledgearticle``); publishing it stamps today's review."""
    require_permission(actor, "service.add_knowledgearticle", message="You may not write knowledge articles.")
    return _article_save_new(
        author=actor, title=title, body=body, tags=tags, published=published, last_reviewed_at=last_reviewed_at
    )


@transaction.atomic
def knowledge_article_seed(
    *, title: str, body: str, tags: str = "", published: bool = False, last_reviewed_at: date | None = None
) -> KnowledgeArticle:
    """A system entry point: install an article with no author (the demo data, fixtures, imports run
    by an operator from the command line). People's articles go through :func:`knowledge_article_create`."""
    return _article_save_new(
        author=None, title=title, body=body, tags=tags, published=published, last_reviewed_at=last_reviewed_at
    )


@transaction.atomic
def knowledge_article_update(*, article: KnowledgeArticle, actor: User, data: dict[str, Any]) -> KnowledgeArticle:
    """Edit an article (``service.change_knowledgearticle``); publishing it stamps today's review."""
    require_permission(actor, "service.change_knowledgearticle", message="You may not edit knowledge articles.")
    unknown = set(data) - ARTICLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    article = KnowledgeArticle.objects.select_for_update().get(pk=article.pk)
    before = {name: getattr(article, name) for name in ARTICLE_FIELDS}
    for name, value in data.items():
        setattr(
            article, name, _clean_tags(value) if name == "tags" else value.strip() if isinstance(value, str) else value
        )
    if "title" in data:
        article.slug = _unique_slug(article.title, exclude_pk=article.pk)
    if data.get("published") and "last_reviewed_at" not in data:
        article.last_reviewed_at = timezone.localdate()
    article.full_clean()
    article.save()
    changed = [name for name in sorted(ARTICLE_FIELDS) if getattr(article, name) != before[name]]
    if changed:
        audit_record(
            verb="service.article_updated",
            actor=actor,
            target=article,
            # the body is kept by the article itself; the trail says that it changed, not the text
            data={
                "before": {n: before[n] for n in changed if n != "body"},
                "after": {n: getattr(article, n) for n in changed if n != "body"},
                "changed": changed,
            },
        )
    return article
