{#
  Each combination of `columns` occurs at most once: the model's grain. (dbt's own `unique`
  takes one column; dbt packages cannot be installed here, so this is the one extra.)
#}
{% test unique_grain(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
